"""The shared-memory object store: one file per object under a private
session directory in ``/dev/shm``, spilled to a disk directory when full.

Any process of the session writes an object once (:func:`write_object`) and
every process maps it read-only (:func:`read_object`) with no copy: numpy arrays
and Arrow tables of the value point into the mapping. Unlinking a file (free or
spill) does not disturb readers that already mapped it.

The *capacity* (what may live in ``/dev/shm`` at once) is accounted by the
driver (:class:`StoreAccounting`), which spills the least recently used objects
to disk when the store fills; reads of spilled objects map the disk file, so a
restore is transparent.

Locations are small tuples that travel in messages:
``("inline", bytes)``, ``("shm", path, size)``, ``("disk", path, size)``.
"""

from __future__ import annotations

import errno
import mmap
import os
import shutil
from collections import OrderedDict
from typing import Any

from streamdata.core.serialization import SerializedObject, deserialize, serialize
from streamdata.errors import ObjectLostError, ObjectStoreFullError

#: objects at most this large travel inline in messages
INLINE_THRESHOLD = 100 * 1024

Location = tuple


def make_location(obj_id: str, sobj: SerializedObject, shm_dir: str, spill_dir: str) -> Location:
    """Store a serialized object: inline when small, else a file in shm (disk when shm is full)."""
    if sobj.total_bytes <= INLINE_THRESHOLD:
        return ("inline", sobj.to_bytes())
    path = os.path.join(shm_dir, obj_id)
    try:
        _write_file(path, sobj)
        return ("shm", path, sobj.total_bytes)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.ENOMEM):
            raise
        _unlink_quietly(path)
    path = os.path.join(spill_dir, obj_id)
    try:
        os.makedirs(spill_dir, mode=0o700, exist_ok=True)
        _write_file(path, sobj)
    except OSError as exc:
        _unlink_quietly(path)
        raise ObjectStoreFullError(
            f"object {obj_id} ({sobj.total_bytes} bytes) fits neither in shared memory nor in "
            f"the spill directory {spill_dir}: {exc}") from exc
    return ("disk", path, sobj.total_bytes)


def put_value(obj_id: str, value: Any, shm_dir: str, spill_dir: str) -> tuple[Location, list]:
    """Serialize and store ``value``; returns its location and the ObjectRef ids it contains."""
    sobj = serialize(value)
    return make_location(obj_id, sobj, shm_dir, spill_dir), sobj.contained_ids


def _write_file(path: str, sobj: SerializedObject) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        size = sobj.total_bytes
        # allocate every page up front (far cheaper than faulting them one by one)
        os.posix_fallocate(fd, 0, size)
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        with mmap.mmap(fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE) as mm:
            view = memoryview(mm)
            try:
                sobj.write_into(view)
            finally:
                view.release()
    finally:
        os.close(fd)


def map_file(path: str) -> memoryview:
    """Map a stored object read-only. The returned view keeps the mapping alive."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return memoryview(mm)


def read_location(location: Location) -> Any:
    """Deserialize the value at ``location`` (zero-copy for shm and disk).

    Raises FileNotFoundError when the file moved (spilled or freed) meanwhile:
    callers ask the owner for the new location and retry.
    """
    kind = location[0]
    if kind == "inline":
        return deserialize(location[1])
    if kind in ("shm", "disk"):
        return deserialize(map_file(location[1]))
    raise ObjectLostError(f"unknown object location kind {kind!r}")


def spill_file(location: Location, spill_dir: str) -> Location:
    """Move an shm object to the spill directory; readers that mapped it keep their map."""
    _, path, size = location
    os.makedirs(spill_dir, mode=0o700, exist_ok=True)
    dest = os.path.join(spill_dir, os.path.basename(path))
    shutil.copyfile(path, dest)
    os.chmod(dest, 0o600)
    _unlink_quietly(path)
    return ("disk", dest, size)


def delete_location(location: Location) -> None:
    if location and location[0] in ("shm", "disk"):
        _unlink_quietly(location[1])


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class StoreAccounting:
    """Driver-side bookkeeping of what lives in shared memory, in LRU order.

    Pure bookkeeping: it decides *which* objects to spill; the caller moves them.

    Example:
        >>> acc = StoreAccounting(capacity=100, spill_threshold=0.8)
        >>> acc.add("a", 50); acc.add("b", 40)
        >>> acc.to_spill()
        ['a']
    """

    def __init__(self, capacity: int, spill_threshold: float = 0.8) -> None:
        self.capacity = capacity
        self.spill_threshold = spill_threshold
        self.used = 0
        self.spilled_bytes = 0
        self.spilled_total = 0
        self._objects: OrderedDict[str, int] = OrderedDict()

    def add(self, obj_id: str, size: int) -> None:
        self._objects[obj_id] = size
        self.used += size

    def touch(self, obj_id: str) -> None:
        if obj_id in self._objects:
            self._objects.move_to_end(obj_id)

    def remove(self, obj_id: str) -> None:
        size = self._objects.pop(obj_id, None)
        if size is not None:
            self.used -= size

    def mark_spilled(self, obj_id: str) -> None:
        size = self._objects.pop(obj_id, None)
        if size is not None:
            self.used -= size
            self.spilled_bytes += size
            self.spilled_total += size

    def unspill(self, size: int) -> None:
        self.spilled_bytes -= size

    def to_spill(self) -> list[str]:
        """Ids to spill (oldest first) to bring use under the threshold."""
        limit = self.capacity * self.spill_threshold
        excess = self.used - limit
        out = []
        if excess <= 0:
            return out
        for obj_id, size in self._objects.items():
            if excess <= 0:
                break
            out.append(obj_id)
            excess -= size
        return out
