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
        self.bundle_specs = bundles
        self.strategy = strategy
        self._ready_ref = ObjectRef(ready_id) if ready_id else None

    @property
    def bundle_count(self) -> int:
        return len(self.bundle_specs)

    def ready(self) -> ObjectRef:
        if self._ready_ref is None:
            raise ValueError("this placement group handle has no ready() reference")
        return self._ready_ref

    def wait(self, timeout_seconds: float = 30) -> bool:
        backend = context.current_backend()
        ready, _ = backend.wait([self.ready()], 1, timeout_seconds, True)
        return bool(ready) and bool(backend.get(ready[0], None))

    def __reduce__(self) -> tuple:
        return (PlacementGroup, (self.id, self.bundle_specs, self.strategy, None))

    def __repr__(self) -> str:
        return f"PlacementGroup({self.id}, {self.strategy}, {self.bundle_specs})"


@dataclass(frozen=True)
class PlacementGroupSchedulingStrategy:
    """Schedule a task or actor into a placement group's bundle (-1: any bundle)."""

    placement_group: PlacementGroup
    placement_group_bundle_index: int = -1
    placement_group_capture_child_tasks: bool | None = None


def placement_group(bundles: list[dict[str, float]], strategy: str = "PACK", name: str = "",
                    lifetime: Any = None, **_ignored: Any) -> PlacementGroup:
    """Reserve ``bundles`` of resources together."""
    bundles = validate_bundles(bundles, strategy)
    return context.current_backend().placement_group(bundles, strategy, name)


def remove_placement_group(pg: PlacementGroup) -> None:
    """Release a placement group; actors in it are killed."""
    context.current_backend().remove_placement_group(pg)


def placement_group_table(pg: PlacementGroup) -> dict:
    return context.current_backend().placement_group_table(pg)
