"""Lowering: an (optimized) logical plan becomes a DAG of physical operators.

This package is the only place that knows both sides: it reads logical nodes
(:mod:`streamdata.plan.logical`) and builds the operators and specs of
:mod:`streamdata.exec` from them, dispatching on node types with ``isinstance`` (never on
class names). exec never sees a logical node.

Owns:

* :mod:`.lowerer` — :class:`~streamdata.plan.lowering.lowerer.Lowerer`, the walk over the
  plan (each node lowered once, shared nodes shared) and the dispatch by node type;
* :mod:`.reads_writes` — ``Read`` (read tasks made when the execution starts, a following
  task-pool map fused in) and ``Write`` (fused into the map before it);
* :mod:`.maps` — maps and fused maps to task-pool or actor-pool map operators
  (:func:`map_stages`);
* :mod:`.all_to_all` — sort, shuffles, repartition, aggregate, map_groups and join to the
  all-to-all operators and their specs (:func:`lower_all_to_all`);
* :mod:`.misc` — ``InputData``, ``Limit``, ``Union``, ``Zip``, ``StreamingSplit``.

May import: :mod:`streamdata.plan` (nodes, rules' pure policies, :class:`ClusterInfo`),
:mod:`streamdata.exec` (operators, specs), and the base types. Never the runtime
(:mod:`streamdata.core`): the cluster's size comes in as a
:class:`~streamdata.plan.cluster.ClusterInfo`, and read tasks are ``put`` by the input
operator when the execution starts. Never the facade or :mod:`streamdata.execution`.

Example:
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.cluster import ClusterInfo
    >>> from streamdata.plan.logical import LogicalPlan, Read, MapBatches, Limit
    >>> read = Read(datasource=RangeDatasource(10), parallelism=2)
    >>> plan = LogicalPlan(Limit(inputs=(MapBatches(inputs=(read,), fn=lambda b: b),), limit=3))
    >>> dag = lower(plan, cluster=ClusterInfo(num_cpus=2))
    >>> [op.name for op in dag.post_order()]
    ['ReadRange', 'ReadRange->MapBatches(<lambda>)', 'Limit(3)']
"""

from __future__ import annotations

from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.logical import LogicalPlan
from streamdata.plan.lowering.all_to_all import lower_all_to_all
from streamdata.plan.lowering.lowerer import Lowerer
from streamdata.plan.lowering.maps import map_stages


def lower(logical_plan: LogicalPlan, ctx: DataContext | None = None,
          cluster: ClusterInfo | None = None) -> PhysicalOperator:
    """The physical DAG of ``logical_plan``; returns its output operator.

    Args:
        logical_plan: the plan (optimized or not: every node has a lowering).
        ctx: the data context (default batch size, block sizes); default the current one.
        cluster: what the plan runs on (read parallelism of reads the optimizer did not
            size); default one CPU.

    Raises:
        NotImplementedError: a node kind with no lowering (names it).
    """
    return Lowerer(logical_plan, ctx or DataContext.get_current(),
                   cluster or ClusterInfo(num_cpus=1.0)).lower(logical_plan.root)


__all__ = ["ClusterInfo", "Lowerer", "lower", "lower_all_to_all", "map_stages"]
