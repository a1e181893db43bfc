"""Compiling a logical plan: optimize, lower, note CPU oversubscription.

The cluster's size is read once per compilation (:func:`cluster_info`) and passed
down to the optimizer (as an ``OptimizerContext``) and to the lowering; neither
asks the runtime itself.

Example:
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.cluster import ClusterInfo
    >>> from streamdata.plan.logical import LogicalPlan, Read, Limit
    >>> plan = LogicalPlan(Limit(inputs=(Read(datasource=RangeDatasource(10)),), limit=3))
    >>> physical = compile(plan, cluster=ClusterInfo(num_cpus=2))
    >>> [op.name for op in physical.dag.post_order()]
    ['ReadRange', 'ReadRange', 'Limit(3)']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamdata.context import DataContext
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.logical import LogicalPlan
from streamdata.plan.optimizer import optimize as _optimize
from streamdata.plan.rules.base import OptimizerContext

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.exec.interfaces import PhysicalOperator


def cluster_info() -> ClusterInfo:
    """The resources of the running cluster (starting the local runtime when needed)."""
    from streamdata.core import api as rt
    return ClusterInfo.from_resources(rt.cluster_resources())


@dataclass(frozen=True, slots=True)
class PhysicalPlan:
    """A compiled plan: the optimized logical plan and its physical operators.

    Attributes:
        logical: the optimized logical plan.
        dag: the output operator of the physical DAG.
        cluster: the resources it was compiled for.
        oversubscribed: ``{operator name: tasks at once}`` of the task operators that
            run with ``num_cpus=0`` because actor pools hold every CPU.
    """

    logical: LogicalPlan
    dag: PhysicalOperator
    cluster: ClusterInfo
    oversubscribed: Mapping[str, int] = field(default_factory=dict)

    def explain(self) -> str:
        """The physical operators, root first, with their notes."""
        lines: list[str] = []

        def visit(op: PhysicalOperator, depth: int) -> None:
            prefix = "" if depth == 0 else "   " * (depth - 1) + "+- "
            lines.append(prefix + f"{type(op).__name__}[{op.name}]")
            pad = "   " * depth + "   "
            lines.extend(pad + extra for extra in op.explain_lines())
            cap = getattr(op, "cpu_oversubscription_cap", None)
            if cap is not None:
                lines.append(pad + f"actor pools hold every CPU: runs with num_cpus=0, at most "
                             f"{cap} tasks at once")
            for dep in op.input_dependencies:
                visit(dep, depth + 1)

        visit(self.dag, 0)
        return "\n".join(lines)


def optimize(logical_plan: LogicalPlan, ctx: DataContext | None = None,
             cluster: ClusterInfo | None = None) -> LogicalPlan:
    """``logical_plan`` after the optimizer's rules, for ``cluster`` (default: the running one).

    Example:
        >>> from streamdata.plan.logical import InputData, Limit
        >>> plan = LogicalPlan(Limit(inputs=(Limit(inputs=(InputData(),), limit=5),), limit=3))
        >>> print(optimize(plan, cluster=ClusterInfo(num_cpus=1)).explain())
        Limit(3)
        +- InputData
    """
    ctx = ctx or DataContext.get_current()
    cluster = cluster or cluster_info()
    opt_ctx = OptimizerContext.from_data_context(ctx, num_cpus=cluster.num_cpus,
                                                 num_gpus=cluster.num_gpus)
    return _optimize(logical_plan, opt_ctx)


def compile(logical_plan: LogicalPlan, ctx: DataContext | None = None,  # noqa: A001 - the API's name
            cluster: ClusterInfo | None = None) -> PhysicalPlan:
    """Optimize ``logical_plan``, lower it and apply the CPU oversubscription notes.

    Args:
        logical_plan: the plan the facade built.
        ctx: the data context (default: the current one).
        cluster: the resources to compile for (default: read from the runtime, once).
    """
    ctx = ctx or DataContext.get_current()
    cluster = cluster or cluster_info()
    return lower_optimized(optimize(logical_plan, ctx, cluster), ctx, cluster)


def lower_optimized(optimized: LogicalPlan, ctx: DataContext, cluster: ClusterInfo) -> PhysicalPlan:
    """The physical plan of an optimized plan (the lowering and the executor's modules are
    imported here: a plan that never reaches the executor does not load them)."""
    from streamdata.exec.executor import apply_cpu_oversubscription

    dag = _lower_plan(optimized, ctx, cluster)
    notes = apply_cpu_oversubscription(list(dag.post_order()), cluster.num_cpus)
    return PhysicalPlan(logical=optimized, dag=dag, cluster=cluster, oversubscribed=notes)


def _lower_plan(optimized: LogicalPlan, ctx: DataContext, cluster: ClusterInfo) -> PhysicalOperator:
    """The one call into the lowering."""
    from streamdata.plan.lowering import lower

    return lower(optimized, ctx, cluster=cluster)


__all__ = ["PhysicalPlan", "cluster_info", "compile", "lower_optimized", "optimize"]
