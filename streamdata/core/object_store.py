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

Freed segments are *recycled*: writing into pages that already exist is several
times faster than faulting in fresh ones. The driver moves a freed file into
``<session>/free/`` (bounded in bytes) instead of unlinking it; a writer claims
one of a fitting size by renaming it. Readers hold a shared ``flock`` on every
file they map for as long as the mapping lives, and a writer reuses a claimed
file only if it gets the exclusive lock, so a segment still read zero-copy
somewhere is never overwritten.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import shutil
import weakref
from collections import OrderedDict
from typing import Any

from streamdata.core.serialization import SerializedObject, deserialize, serialize
from streamdata.errors import ObjectLostError, ObjectStoreFullError

#: objects at most this large travel inline in messages
INLINE_THRESHOLD = 100 * 1024
#: folder (inside the session's shm folder) of freed segments kept for reuse
FREE_DIR = "free"

Location = tuple


def make_location(obj_id: str, sobj: SerializedObject, shm_dir: str, spill_dir: str) -> Location:
    """Store a serialized object: inline when small, else a file in shm (disk when shm is full)."""
    if sobj.total_bytes <= INLINE_THRESHOLD:
        return ("inline", sobj.to_bytes())
    path = os.path.join(shm_dir, obj_id)
    try:
        size = _write_recycled(path, shm_dir, sobj) or _write_file(path, sobj)
        return ("shm", path, size)
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


def _write_file(path: str, sobj: SerializedObject) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # an earlier attempt of the same task died after writing this return: its
        # object never became ready (nobody maps it), so the retry reclaims the path
        _unlink_quietly(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # allocate every page up front (far cheaper than faulting them one by one)
        os.posix_fallocate(fd, 0, sobj.total_bytes)
        _fill(fd, sobj.total_bytes, sobj)
    finally:
        os.close(fd)
    return sobj.total_bytes


def _fill(fd: int, size: int, sobj: SerializedObject) -> None:
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    with mmap.mmap(fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE) as mm:
        view = memoryview(mm)
        try:
            sobj.write_into(view)
        finally:
            view.release()


def _write_recycled(path: str, shm_dir: str, sobj: SerializedObject) -> int:
    """Write into a freed segment of a fitting size; returns its size, or 0 if none fits."""
    free_dir = os.path.join(shm_dir, FREE_DIR)
    need = sobj.total_bytes
    try:
        names = os.listdir(free_dir)
    except FileNotFoundError:
        return 0
    fitting = sorted((size, name) for size, name in map(_pooled_size, names)
                     if need <= size <= need + need // 4 + (1 << 20))
    for size, name in fitting:
        try:
            os.rename(os.path.join(free_dir, name), path)  # atomic: one claimant wins
        except FileNotFoundError:
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # still mapped by a reader somewhere: not reusable
                _unlink_quietly(path)
                continue
            _fill(fd, size, sobj)
        finally:
            os.close(fd)  # releases the lock
        return size
    return 0


def _pooled_size(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    return (int(head) if head.isdigit() else -1), name


def raise_open_file_limit() -> None:
    """Every live mapping keeps its file open (for its lock): allow as many as the OS does."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def recycle_or_delete(location: Location, shm_dir: str, pool_limit: int) -> None:
    """Free a location; an shm segment goes to the reuse pool while it has room."""
    if location[0] != "shm" or pool_limit <= 0:
        delete_location(location)
        return
    _, path, size = location
    free_dir = os.path.join(shm_dir, FREE_DIR)
    try:
        pooled = sum(max(0, _pooled_size(n)[0]) for n in os.listdir(free_dir))
    except FileNotFoundError:
        os.makedirs(free_dir, mode=0o700, exist_ok=True)
        pooled = 0
    if pooled + size > pool_limit:
        _unlink_quietly(path)
        return
    try:
        os.rename(path, os.path.join(free_dir, f"{size}-{os.path.basename(path)}"))
    except FileNotFoundError:
        pass


#: mappings alive in this process, by path: a second get of the same object maps nothing
_mapped: "weakref.WeakValueDictionary[str, mmap.mmap]" = weakref.WeakValueDictionary()


def map_file(path: str) -> memoryview:
    """Map a stored object read-only. The returned view keeps the mapping alive,
    and a shared lock on the file marks it as in use until the mapping is gone.

    Paths are never reused for another object (ids are unique), so a mapping
    still alive for ``path`` is the object's and is shared."""
    mm = _mapped.get(path)
    if mm is not None:
        try:
            return memoryview(mm)
        except ValueError:  # closed meanwhile
            pass
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    except BaseException:
        os.close(fd)
        raise
    weakref.finalize(mm, os.close, fd)
    _mapped[path] = mm
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
