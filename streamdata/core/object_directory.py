"""The driver's directory of objects: where each lives and who holds it.

An object is ``pending`` until its task reports it, then ``ready`` with a
location (inline bytes, a shared-memory file, a disk file once spilled, or an
error). Its count of holders — processes holding ObjectRefs to it, tasks it is an
argument of, objects that contain it — frees it when it drops to zero. Waiters
(``get``, ``wait``, tasks waiting for arguments) are called once it is ready.
Pure bookkeeping: freeing and spilling are emitted as commands
(:class:`~streamdata.core.events.FreeObject`, :class:`~streamdata.core.events.SpillObject`)
that the runtime's loop executes. Not thread-safe by itself.
"""

from __future__ import annotations

from typing import Callable

from streamdata.core.events import FreeObject, SpillObject
from streamdata.core.object_store import StoreAccounting
from streamdata.core.serialization import dumps_exception
from streamdata.errors import ObjectFreedError


class ObjectEntry:
    __slots__ = ("state", "location", "refs", "contained", "waiters", "in_shm", "size", "spilling")

    def __init__(self) -> None:
        self.state = "pending"
        self.location: tuple | None = None
        self.refs = 0
        self.contained: list[str] = []
        self.waiters: list[Callable[[str], None]] = []
        self.in_shm = False
        self.size = 0
        #: a SpillObject command is out for it (accounted as spilled already)
        self.spilling = False


class ObjectDirectory:
    """Every object of the session, with its location, holders and waiters."""

    def __init__(self, accounting: StoreAccounting, emit: Callable[[object], None]) -> None:
        self.objects: dict[str, ObjectEntry] = {}
        self.accounting = accounting
        self.emit = emit
        #: called with the id of each freed object (lineage release)
        self.on_free: Callable[[str], None] | None = None
        #: called with an actor's id when the last handle to it is gone (entries in
        #: state ``actor`` count an actor's handles, as objects count their refs)
        self.on_actor_released: Callable[[str], None] | None = None

    def track_actor(self, actor_id: str) -> None:
        """Count the handles of actor ``actor_id`` (ActorHandles count like ObjectRefs)."""
        self.ensure(actor_id).state = "actor"

    def ensure(self, obj_id: str) -> ObjectEntry:
        entry = self.objects.get(obj_id)
        if entry is None:
            entry = self.objects[obj_id] = ObjectEntry()
        return entry

    def change_refs(self, obj_id: str, delta: int) -> None:
        entry = self.objects.get(obj_id)
        if entry is None:
            if delta < 0:
                return
            entry = self.objects[obj_id] = ObjectEntry()
        entry.refs += delta
        if entry.refs <= 0:
            if entry.state == "ready":
                self._free(obj_id, entry)
            elif entry.state == "actor" and delta < 0:  # the actor's last handle is gone
                del self.objects[obj_id]
                if self.on_actor_released is not None:
                    self.on_actor_released(obj_id)

    def _free(self, obj_id: str, entry: ObjectEntry) -> None:
        del self.objects[obj_id]
        if entry.location is not None:
            if entry.in_shm:
                self.accounting.remove(obj_id)
            elif entry.spilling or entry.location[0] == "disk":
                self.accounting.unspill(entry.size)
            self.emit(FreeObject(entry.location))
        for inner in entry.contained:
            self.change_refs(inner, -1)
        if self.on_free is not None:
            self.on_free(obj_id)

    def mark_lost(self, obj_id: str) -> list[str]:
        """A ready object's stored copy is gone: it is pending again (its task re-runs).

        Returns the ids its lost value contained (still counted: the caller
        releases them once the new value is in).
        """
        entry = self.objects[obj_id]
        if entry.in_shm:
            self.accounting.remove(obj_id)
        elif entry.spilling or (entry.location is not None and entry.location[0] == "disk"):
            self.accounting.unspill(entry.size)
        entry.state = "pending"
        entry.location = None
        entry.in_shm = entry.spilling = False
        entry.size = 0
        contained, entry.contained = entry.contained, []
        return contained

    def created(self, obj_id: str, location: tuple, contained: list[str]) -> None:
        entry = self.objects.get(obj_id)
        if entry is None:
            entry = self.objects[obj_id] = ObjectEntry()
        if entry.state == "ready":  # a retried task finished twice: keep the first value
            self.emit(FreeObject(location))
            return
        entry.state = "ready"
        entry.location = location
        entry.contained = contained
        for inner in contained:
            self.change_refs(inner, +1)
        if location[0] == "shm":
            entry.in_shm = True
            entry.size = location[2]
            self.accounting.add(obj_id, location[2])
        elif location[0] == "disk":
            entry.size = location[2]
            self.accounting.spilled_bytes += location[2]
            self.accounting.spilled_total += location[2]
        waiters, entry.waiters = entry.waiters, []
        for waiter in waiters:
            waiter(obj_id)
        if entry.refs <= 0:
            self._free(obj_id, entry)
        else:
            self._maybe_spill()

    def set_error(self, obj_id: str, payload: tuple) -> None:
        self.created(obj_id, ("error", payload), [])

    def _maybe_spill(self) -> None:
        for obj_id in self.accounting.to_spill():
            entry = self.objects.get(obj_id)
            if entry is None or not entry.in_shm:
                self.accounting.remove(obj_id)
                continue
            entry.in_shm = False
            entry.spilling = True
            self.accounting.mark_spilled(obj_id)
            self.emit(SpillObject(obj_id, entry.location))  # type: ignore[arg-type]

    def spilled(self, obj_id: str, location: tuple) -> None:
        """A spill finished: the object now lives at ``location`` on disk."""
        entry = self.objects.get(obj_id)
        if entry is None or not entry.spilling:  # freed meanwhile: drop the disk copy
            self.emit(FreeObject(location))
            return
        entry.spilling = False
        entry.location = location

    def spill_failed(self, obj_id: str) -> None:
        """A spill failed (the disk is full too): the object stays in shared memory."""
        entry = self.objects.get(obj_id)
        if entry is None or not entry.spilling:
            return
        entry.spilling = False
        entry.in_shm = True
        acc = self.accounting
        acc.spilled_bytes -= entry.size
        acc.spilled_total -= entry.size
        acc.add(obj_id, entry.size)

    def when_ready(self, obj_ids: list[str], callback: Callable[[str], None]) -> list[str]:
        """Call ``callback(id)`` as each pending id becomes ready; returns ids already ready."""
        ready = []
        for obj_id in obj_ids:
            entry = self.objects.get(obj_id)
            if entry is None:
                entry = self.objects[obj_id] = ObjectEntry()  # freed or unknown: never ready
                entry.state = "ready"
                entry.location = ("error", _freed_payload(obj_id))
                entry.refs = 1  # keep the tombstone (harmless, tiny)
            if entry.state == "ready":
                ready.append(obj_id)
            else:
                entry.waiters.append(callback)
        return ready

    def ready_ids(self, obj_ids: list[str]) -> list[str]:
        """Those of ``obj_ids`` that are ready now (an unknown id counts as ready: it
        reads as freed)."""
        objects = self.objects
        return [i for i in obj_ids if (e := objects.get(i)) is None or e.state == "ready"]

    def forget_waiter(self, obj_ids: list[str], callback: Callable[[str], None]) -> None:
        """Unregister ``callback`` (a wait that finished or gave up) from ``obj_ids``."""
        for obj_id in obj_ids:
            entry = self.objects.get(obj_id)
            if entry is not None and entry.waiters:
                try:
                    entry.waiters.remove(callback)
                except ValueError:
                    pass

    def ready_locations(self, obj_ids: list[str]) -> list[tuple] | None:
        """The locations of ``obj_ids`` if every one is ready, else None."""
        objects = self.objects
        out = []
        for obj_id in obj_ids:
            entry = objects.get(obj_id)
            if entry is None or entry.state != "ready":
                return None
            out.append(self.location_of(obj_id))
        return out

    def location_of(self, obj_id: str) -> tuple:
        """Where a ready object is. A freed one (a late answer to a request that
        already gave up) reads as an ObjectFreedError."""
        entry = self.objects.get(obj_id)
        if entry is None or entry.location is None:
            return ("error", _freed_payload(obj_id))
        if entry.in_shm:
            self.accounting.touch(obj_id)
        return entry.location  # type: ignore[return-value]


    def stats(self) -> dict[str, int]:
        acc = self.accounting
        return {"used_bytes": acc.used, "capacity_bytes": acc.capacity, "spilled_bytes": acc.spilled_bytes,
                "spilled_total_bytes": acc.spilled_total, "num_objects": len(self.objects)}


def _freed_payload(obj_id: str) -> tuple:
    return (dumps_exception(ObjectFreedError(f"object {obj_id} was freed or never existed")), "", "")
