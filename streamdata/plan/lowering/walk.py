"""What a node family's lowering may ask of the walk that calls it.

The families (:mod:`.reads_writes`, :mod:`.maps`, :mod:`.all_to_all`, :mod:`.misc`)
are called by :class:`~streamdata.plan.lowering.lowerer.Lowerer` and call back into it
only through this protocol, so they never import the lowerer (which imports them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.context import DataContext
    from streamdata.exec.interfaces import PhysicalOperator
    from streamdata.plan import logical as L
    from streamdata.plan.cluster import ClusterInfo


class LoweringWalk(Protocol):
    """The walk over one plan, as the node families see it."""

    ctx: DataContext
    cluster: ClusterInfo

    def lower(self, node: L.LogicalNode) -> PhysicalOperator:
        """The operator of ``node`` (lowered once, however many consumers it has)."""
        ...

    def only_consumer(self, node: L.LogicalNode) -> bool:
        """Whether ``node`` feeds exactly one operator (so it may be fused into it)."""
        ...

    def consumer_of(self, node: L.LogicalNode) -> L.LogicalNode | None:
        """The one node ``node`` feeds (None when it feeds none or several)."""
        ...
