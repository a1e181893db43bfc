"""The walk over a logical plan: each node lowered once, by its type.

:class:`Lowerer` memoizes by node (a node with two consumers becomes one operator
feeding both) and counts consumers (a read or map is fused into its consumer only when
it has no other). Each node family's lowering lives in its own module and gets the
:class:`Lowerer` to lower its inputs.

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.plan.cluster import ClusterInfo
    >>> from streamdata.plan.logical import InputData, Limit, LogicalPlan
    >>> plan = LogicalPlan(Limit(inputs=(InputData(),), limit=2))
    >>> Lowerer(plan, DataContext(), ClusterInfo(num_cpus=1)).lower(plan.root).name
    'Limit(2)'
"""

from __future__ import annotations

from collections.abc import Callable

from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.lowering import all_to_all, maps, misc, reads_writes

#: node type → its lowering, tried in order with ``isinstance``
LOWERINGS: tuple[tuple[type, Callable[["Lowerer", L.LogicalNode], PhysicalOperator]], ...] = (
    (L.Read, reads_writes.lower_read),
    (L.Write, reads_writes.lower_write),
    (L.InputData, misc.lower_input_data),
    (L.AbstractMap, maps.lower_map),
    (L.Limit, misc.lower_limit),
    (L.Union, misc.lower_union),
    (L.Mix, misc.lower_mix),
    (L.Zip, misc.lower_zip),
    (L.StreamingSplit, misc.lower_streaming_split),
    (all_to_all.ALL_TO_ALL_NODES, all_to_all.lower_node),
)


class Lowerer:
    """Lowers the nodes of one logical plan (see the module docstring).

    Args:
        logical_plan: the plan whose nodes are lowered.
        ctx: the data context.
        cluster: what the plan runs on.
    """

    def __init__(self, logical_plan: L.LogicalPlan, ctx: DataContext, cluster: ClusterInfo) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self._memo: dict[int, PhysicalOperator] = {}
        self._consumers: dict[int, int] = {}
        self._consumer: dict[int, L.LogicalNode] = {}
        for node in logical_plan.nodes():
            for inp in node.inputs:
                self._consumers[id(inp)] = self._consumers.get(id(inp), 0) + 1
                self._consumer[id(inp)] = node

    def lower(self, node: L.LogicalNode) -> PhysicalOperator:
        """The operator of ``node`` (made once per node)."""
        done = self._memo.get(id(node))
        if done is None:
            done = self._memo[id(node)] = self._dispatch(node)
        return done

    def only_consumer(self, node: L.LogicalNode) -> bool:
        """Whether ``node`` feeds at most one other node (so it may be fused into it)."""
        return self._consumers.get(id(node), 0) <= 1

    def consumer_of(self, node: L.LogicalNode) -> L.LogicalNode | None:
        """The one node ``node`` feeds (None when it feeds none or several)."""
        return self._consumer.get(id(node)) if self._consumers.get(id(node), 0) == 1 else None

    def _dispatch(self, node: L.LogicalNode) -> PhysicalOperator:
        for kind, lowering in LOWERINGS:
            if isinstance(node, kind):
                return lowering(self, node)
        raise NotImplementedError(f"no lowering for {type(node).__name__} ({node.name})")
