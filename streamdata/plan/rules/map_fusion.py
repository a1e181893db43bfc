"""Map fusion: chains of maps run in one task (or one actor) per block."""

from __future__ import annotations

from streamdata.plan.logical import (
    AbstractMap, ActorPoolStrategy, FusedMap, LogicalNode, LogicalPlan, TaskPoolStrategy,
)
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up, same_resources


class MapFusionRule(Rule):
    """Adjacent maps that can share a worker become one :class:`FusedMap`.

    Rewrites (``T`` a task-pool map, ``A`` an actor-pool map)::

        T2(T1(x))   ⇒ FusedMap([T1, T2])(x)   same resources per task, same task cap
        A(T(x))     ⇒ FusedMap([T, A])(x)     T runs inside A's actors (same resources,
                                               T has no task cap); the pool is A's
        FusedMap([..])(..) fuses further the same way.

    Never fused: an actor map with what follows it (A → T stays two operators), maps whose
    resources differ (a CPU stage before a GPU stage keeps its own parallelism), and a map
    that has other consumers. Stages keep their own batch sizes and formats: the fused task
    applies them one after another to each block.
    """

    name = "MapFusion"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            if not isinstance(node, AbstractMap) or len(node.inputs) != 1:
                return node
            up = node.input
            if not isinstance(up, AbstractMap) or id(up) in shared or not can_fuse(up, node):
                return node
            return FusedMap(inputs=up.inputs, stages=_stages(up) + _stages(node),
                            compute=node.compute, ray_remote_args=node.ray_remote_args)

        return rewrite_up(plan, visit)


def _stages(node: AbstractMap) -> tuple[AbstractMap, ...]:
    if isinstance(node, FusedMap):
        return node.stages
    return (node.with_inputs(),)  # type: ignore[return-value]


def can_fuse(up: AbstractMap, down: AbstractMap) -> bool:
    """Whether ``down`` may run in the same task/actor as ``up`` (see the rule's docstring)."""
    if not isinstance(up.compute, TaskPoolStrategy) or not same_resources(up, down):
        return False
    if isinstance(down.compute, ActorPoolStrategy):
        return up.compute.size is None
    return up.compute.size == down.compute.size
