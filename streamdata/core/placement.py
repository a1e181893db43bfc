"""Placement groups on one node: bundles of resources reserved together.

All four strategies reserve the bundles atomically from the node. On a single
node ``PACK``, ``SPREAD`` and ``STRICT_PACK`` are always satisfiable when the
resources exist; ``STRICT_SPREAD`` with more than one bundle needs one node per
bundle, so ``ready()`` raises :class:`~streamdata.errors.PlacementGroupError`
instead of waiting forever. Tasks and actors scheduled into a group draw their
resources from its bundle (``placement_group_bundle_index``, -1 for any).
"""

from __future__ import annotations

from streamdata.core.host import StateHost
from streamdata.core.resources import Grant, ResourcePool, infeasible_reason
from streamdata.core.serialization import dumps_exception, serialize
from streamdata.core.tasks import TaskRecord
from streamdata.errors import InfeasiblePlacementGroupError, PlacementGroupError


class PlacementGroupRecord:
    __slots__ = ("pg_id", "ready_id", "bundles", "strategy", "name", "state", "pools", "grants")

    def __init__(self, pg_id: str, ready_id: str, bundles: list[dict], strategy: str, name: str) -> None:
        self.pg_id = pg_id
        self.ready_id = ready_id
        self.bundles = bundles
        self.strategy = strategy
        self.name = name
        self.state = "PENDING"
        self.pools: list[ResourcePool] = []
        self.grants: list[Grant] = []


class PlacementGroupManager:
    def __init__(self, rt: StateHost) -> None:
        self.rt = rt
        self.groups: dict[str, PlacementGroupRecord] = {}
        self.pending: list[PlacementGroupRecord] = []

    def create(self, pg_id: str, ready_id: str, bundles: list[dict], strategy: str, name: str) -> None:
        pg = PlacementGroupRecord(pg_id, ready_id, bundles, strategy, name)
        self.groups[pg_id] = pg
        if strategy == "STRICT_SPREAD" and len(bundles) > 1:
            pg.state = "INFEASIBLE"
            self._resolve_ready(pg, PlacementGroupError(
                f"STRICT_SPREAD needs {len(bundles)} nodes, one per bundle; the local runtime has 1 "
                "(use PACK or SPREAD, or a Ray cluster with sd.init(backend='ray'))"))
            return
        for i, bundle in enumerate(bundles):
            why = infeasible_reason(f"placement group {name or pg_id} bundle {i}", bundle, self.rt.node.total)
            if why is not None:
                pg.state = "INFEASIBLE"
                self._resolve_ready(pg, InfeasiblePlacementGroupError(why))
                return
        self.pending.append(pg)
        self.retry_pending()

    def retry_pending(self) -> None:
        if not self.pending:
            return
        node = self.rt.node
        still = []
        for pg in self.pending:
            grants = []
            for bundle in pg.bundles:
                grant = node.try_acquire(bundle)
                if grant is None:
                    break
                grants.append(grant)
            if len(grants) < len(pg.bundles):
                for grant in grants:
                    node.release(grant)
                still.append(pg)
                continue
            pg.grants = grants
            pg.pools = [ResourcePool(b, device_ids=g.ids) for b, g in zip(pg.bundles, grants)]
            pg.state = "CREATED"
            self._resolve_ready(pg, None)
        self.pending = still

    def _resolve_ready(self, pg: PlacementGroupRecord, error: BaseException | None) -> None:
        if error is None:
            self.rt.directory.created(pg.ready_id, ("inline", serialize(True).to_bytes()), [])
        else:
            self.rt.directory.set_error(pg.ready_id, (dumps_exception(error), "", "placement_group"))

    def bundles_of(self, pg_id: str) -> list[dict] | None:
        """The bundles of a live group, or None (removed or unknown)."""
        pg = self.groups.get(pg_id)
        return None if pg is None or pg.state == "REMOVED" else pg.bundles

    def pool_for(self, task: TaskRecord) -> ResourcePool | None:
        pg = self.groups.get(task.pg_id or "")
        if pg is None or pg.state == "REMOVED":
            return None
        if pg.state != "CREATED":
            return _NEVER
        if task.bundle_index >= 0:
            if task.bundle_index >= len(pg.pools):
                return None
            return pg.pools[task.bundle_index]
        for pool in pg.pools:
            if pool.can_acquire(task.demand):
                return pool
        return pg.pools[0]

    def remove(self, pg_id: str) -> None:
        pg = self.groups.get(pg_id)
        if pg is None or pg.state == "REMOVED":
            return
        if pg in self.pending:
            self.pending.remove(pg)
            self.rt.directory.set_error(pg.ready_id, (dumps_exception(
                PlacementGroupError(f"placement group {pg_id} was removed")), "", "placement_group"))
        for grant in pg.grants:
            self.rt.node.release(grant)
        pg.state = "REMOVED"
        pg.grants, pg.pools = [], []
        self.rt.actors.kill_in_placement_group(pg_id)
        self.rt.schedule()

    def table(self, pg_id: str) -> dict:
        pg = self.groups.get(pg_id)
        if pg is None:
            return {"state": "REMOVED", "bundles": {}, "strategy": None}
        return {"state": pg.state, "bundles": dict(enumerate(pg.bundles)), "strategy": pg.strategy,
                "name": pg.name}


class _NeverPool(ResourcePool):
    """Stands for a group not yet created: nothing can be acquired from it yet."""

    def __init__(self) -> None:
        super().__init__({})

    def try_acquire(self, demand: dict[str, float]) -> Grant | None:
        return None

    def can_acquire(self, demand: dict[str, float]) -> bool:
        return False


_NEVER = _NeverPool()
