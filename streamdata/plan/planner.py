"""The old name of the lowering: :func:`plan` is :func:`streamdata.plan.lowering.lower`.

Kept while callers move to :mod:`streamdata.execution`; new code calls
:func:`streamdata.plan.lowering.lower` with the cluster it runs on.

Example:
    >>> from streamdata.plan.logical import InputData, Limit, LogicalPlan
    >>> plan(LogicalPlan(Limit(inputs=(InputData(),), limit=3))).name
    'Limit(3)'
"""

from __future__ import annotations

from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.logical import LogicalPlan
from streamdata.plan.lowering import lower, map_stages
from streamdata.plan.lowering.all_to_all import ALL_TO_ALL_NODES


def plan(logical_plan: LogicalPlan, ctx: DataContext | None = None,
         cluster: ClusterInfo | None = None) -> PhysicalOperator:
    """The physical DAG of ``logical_plan`` (see :func:`streamdata.plan.lowering.lower`)."""
    return lower(logical_plan, ctx, cluster)


__all__ = ["ALL_TO_ALL_NODES", "map_stages", "plan"]
