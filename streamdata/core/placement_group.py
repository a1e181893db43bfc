"""Placement groups, client side (Ray's names).

Example:
    >>> import streamdata as sd
    >>> pg = sd.placement_group([{"CPU": 1}], strategy="PACK")
    >>> sd.get(pg.ready())
    True
    >>> sd.remove_placement_group(pg)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamdata.core import context
from streamdata.core.object_ref import ObjectRef
from streamdata.core.validate import validate_bundles


class PlacementGroup:
    """A reservation of resource bundles. ``ready()`` resolves once they are reserved."""

    def __init__(self, pg_id: str, bundles: list[dict], strategy: str, ready_id: str | None = None) -> None:
        self.id = pg_id
        self._bundles = bundles
        self.strategy = strategy
        self._ready_ref = ObjectRef(ready_id) if ready_id else None

    @property
    def bundle_specs(self) -> list[dict]:
        """The bundles' resources, in order."""
        return self._bundles

    @property
    def bundle_count(self) -> int:
        return len(self._bundles)

    @property
    def is_empty(self) -> bool:
        """Whether the group has no bundles (Ray's placeholder group)."""
        return not self._bundles

    @staticmethod
    def empty() -> "PlacementGroup":
        """A group of no bundles (Ray's placeholder for "no placement group")."""
        return PlacementGroup("", [], "PACK")

    def ready(self) -> ObjectRef:
        if self._ready_ref is None:
            raise ValueError("this placement group handle has no ready() reference")
        return self._ready_ref

    def wait(self, timeout_seconds: float = 30) -> bool:
        backend = context.current_backend()
        ready, _ = backend.wait([self.ready()], 1, timeout_seconds, True)
        return bool(ready) and bool(backend.get(ready[0], None))

    def __reduce__(self) -> tuple:
        return (PlacementGroup, (self.id, self._bundles, self.strategy, None))

    def __eq__(self, other: object) -> bool:
        # Ray compares handles by the group's id: the handle a task gets back from
        # get_current_placement_group() equals the driver's (its bundles come back as floats).
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup({self.id}, {self.strategy}, {self.bundle_specs})"


@dataclass(frozen=True)
class PlacementGroupSchedulingStrategy:
    """Schedule a task or actor into a placement group's bundle (-1: any bundle)."""

    placement_group: PlacementGroup
    placement_group_bundle_index: int = -1
    placement_group_capture_child_tasks: bool | None = None


def placement_group(bundles: list[dict[str, float]], strategy: str | None = "PACK", name: str = "",
                    lifetime: str | None = None, _soft_target_node_id: str | None = None,
                    bundle_label_selector: list[dict[str, str]] | None = None,
                    topology_strategy: dict[str, str] | None = None) -> PlacementGroup:
    """Reserve ``bundles`` of resources together.

    Args:
        bundles: one resource dict per bundle, e.g. ``[{"CPU": 1}, {"GPU": 1}]``.
        strategy: ``"PACK"`` (the default; None means it too), ``"SPREAD"``,
            ``"STRICT_PACK"`` or ``"STRICT_SPREAD"``.
        name: a name to find the group by (``util.get_placement_group``).
        lifetime: None or ``"detached"`` (the same here: groups live until removed
            or the runtime stops).
        bundle_label_selector: per bundle, labels its node must have
            (``{"ray.io/node-id": ...}``); the one local node's labels must match.
        topology_strategy: TPU slice topologies; needs ``sd.init(backend="ray")``.
    """
    strategy = "PACK" if strategy is None else strategy
    if lifetime not in (None, "detached"):
        raise ValueError(f"placement_group(lifetime=...) must be None or 'detached', got {lifetime!r}")
    if not isinstance(name, str):
        raise TypeError(f"placement_group(name=...) must be a str, got {type(name).__name__}")
    bundles = validate_bundles(bundles, strategy)
    backend = context.current_backend()
    if backend.name != "ray":
        if topology_strategy is not None:
            raise NotImplementedError("placement_group(topology_strategy=...) places TPU slices on a cluster; "
                                      "the local runtime has none (use sd.init(backend='ray'))")
        _check_label_selector(bundle_label_selector, len(bundles))
    return backend.placement_group(bundles, strategy, name, lifetime=lifetime,
                                   _soft_target_node_id=_soft_target_node_id,
                                   bundle_label_selector=bundle_label_selector, topology_strategy=topology_strategy)


def _check_label_selector(selectors: Any, num_bundles: int) -> None:
    if selectors is None:
        return
    if not isinstance(selectors, list) or len(selectors) != num_bundles or not all(
            isinstance(s, dict) for s in selectors):
        raise ValueError(f"placement_group(bundle_label_selector=...) must be a list of {num_bundles} dicts "
                         f"(one per bundle), got {selectors!r}")
    from streamdata.core.runtime_context import node_labels
    from streamdata.errors import InfeasiblePlacementGroupError
    labels = node_labels()
    for i, selector in enumerate(selectors):
        unmet = {k: v for k, v in selector.items() if labels.get(k) != v}
        if unmet:
            raise InfeasiblePlacementGroupError(
                f"placement_group(bundle_label_selector=...): bundle {i} needs labels {unmet}; the local "
                f"runtime's one node has {labels}")


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Release a placement group; actors in it are killed."""
    context.current_backend().remove_placement_group(placement_group)


def placement_group_table(pg: PlacementGroup) -> dict:
    return context.current_backend().placement_group_table(pg)
