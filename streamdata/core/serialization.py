"""Serialization of objects for the object store: one format, read zero-copy.

A serialized object is laid out as::

    [magic 8 bytes][meta length 8 bytes][meta][pickle stream][buffers...][tables...]

* the pickle stream is cloudpickle protocol 5; numpy arrays (and any object
  supporting pickle-5 out-of-band buffers) leave their data *out of band*;
* ``pyarrow.Table`` s anywhere in the value are written as Arrow IPC streams
  (IPC writes only the bytes a sliced table uses, unlike pickling);
* every buffer and table starts on a 64-byte boundary, so a reader that maps the
  bytes (``mmap``) gets numpy arrays and Arrow tables that point into the map:
  no copy.

ObjectRefs (and actor handles) met while pickling are recorded in
:attr:`SerializedObject.contained_ids` so the owner can keep them alive while the
containing object lives.

Example:
    >>> import numpy as np
    >>> s = serialize({"x": np.arange(4)})
    >>> deserialize(s.to_bytes())["x"].tolist()
    [0, 1, 2, 3]
"""

from __future__ import annotations

import copyreg
import io
import linecache
import os
import pickle
import struct
import sys
import threading
import types
from typing import Any, Callable

import cloudpickle

MAGIC = b"SDOBJ01\x00"
_HEADER = struct.Struct("<8sQ")
ALIGN = 64

_local = threading.local()


def _align(n: int) -> int:
    return (n + ALIGN - 1) & ~(ALIGN - 1)


def current_contained_ids() -> list | None:
    """The list ObjectRef reducers append to while serializing (None outside)."""
    return getattr(_local, "contained", None)


def _code_reduce_keeping_file(code: types.CodeType) -> tuple:
    """cloudpickle's code reducer, but the code keeps its real file name (cloudpickle
    writes ``<dynamic-code>``), and source that is on no disk (a notebook cell, a
    ``python -c`` script) travels with it into ``linecache``: a traceback from the
    worker then shows the user's file, line numbers and source lines."""
    rebuild, args = _CLOUDPICKLE_CODE_REDUCE(code)
    filename = code.co_filename
    args = tuple(filename if a == "<dynamic-code>" else a for a in args)
    lines = None
    if not os.path.exists(filename):
        lines = linecache.getlines(filename) or None
    return _rebuild_code, (rebuild, args, filename, lines)


def _rebuild_code(rebuild: Callable, args: tuple, filename: str, lines: list | None) -> types.CodeType:
    if lines and filename not in linecache.cache:
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
    return rebuild(*args)


_CLOUDPICKLE_CODE_REDUCE = cloudpickle.Pickler._dispatch_table[types.CodeType]
#: reducers of this process (:func:`register_reducer`), before cloudpickle's and copyreg's
_OVERRIDES: dict[type, Callable[[Any], tuple]] = {types.CodeType: _code_reduce_keeping_file}
_merged: list = [None, None]  # [sizes it was built from, the table]


def _dispatch_table() -> dict:
    """Our reducers, cloudpickle's and copyreg's in one plain dict.

    The C pickler looks the type of every object it meets up in its dispatch table; in a
    dict that is a C lookup, in cloudpickle's ``ChainMap`` two Python calls (and a
    ``KeyError`` for most objects), a third of the time it takes to pickle a read task.
    The dict is rebuilt when one of the three tables changed size.
    """
    sizes = (len(_OVERRIDES), len(cloudpickle.Pickler._dispatch_table), len(copyreg.dispatch_table))
    if _merged[0] != sizes:
        _merged[1] = {**copyreg.dispatch_table, **cloudpickle.Pickler._dispatch_table, **_OVERRIDES}
        _merged[0] = sizes
    return _merged[1]


def register_reducer(cls: type, reducer: Callable[[Any], tuple]) -> None:
    """Pickle instances of ``cls`` with ``reducer`` (``obj -> (rebuild, args)``) in this process."""
    _OVERRIDES[cls] = reducer
    _merged[0] = None


def deregister_reducer(cls: type) -> None:
    """Undo :func:`register_reducer` (a class never registered is a no-op)."""
    if cls is not types.CodeType:
        _OVERRIDES.pop(cls, None)
        _merged[0] = None


class _FunctionPickler(cloudpickle.Pickler):
    """cloudpickle whose functions keep their file name and source (see above)."""

    def __init__(self, file: io.BytesIO, **kwargs: Any) -> None:
        self.dispatch_table = _dispatch_table()
        super().__init__(file, **kwargs)


#: containers the pickler saves itself: no reducer of cloudpickle's applies to them
_CONTAINERS = frozenset({tuple, list, dict, set, frozenset})


class _Pickler(cloudpickle.Pickler):
    """cloudpickle with Arrow tables diverted to IPC segments."""

    def __init__(self, file: io.BytesIO, buffers: list, tables: list) -> None:
        self.dispatch_table = _dispatch_table()
        super().__init__(file, protocol=5, buffer_callback=buffers.append)
        self._tables = tables
        pa = sys.modules.get("pyarrow")  # no table can be met before pyarrow is loaded
        self._table_type = pa.Table if pa is not None else None

    def reducer_override(self, obj: Any) -> Any:
        t = type(obj)
        if t in _CONTAINERS:
            return NotImplemented
        if t is self._table_type:
            self._tables.append(obj)
            return _load_table, (len(self._tables) - 1,)
        return super().reducer_override(obj)


def _load_table(index: int) -> Any:
    return _local.tables[index]


class SerializedObject:
    """A value ready to be written: sizes are known before any byte is copied."""

    __slots__ = ("pickled", "buffers", "tables", "table_sizes", "contained_ids", "total_bytes", "_meta")

    def __init__(self, pickled: bytes, buffers: list, tables: list, contained_ids: list) -> None:
        self.pickled = pickled
        self.buffers = [memoryview(b).cast("B") if not memoryview(b).contiguous else memoryview(b)
                        for b in buffers]
        self.tables = tables
        self.table_sizes = [_ipc_size(t) for t in tables]
        self.contained_ids = contained_ids
        offset = 0
        layout_bufs, layout_tabs = [], []
        main = (0, len(pickled))
        offset = _align(len(pickled))
        for b in self.buffers:
            layout_bufs.append((offset, b.nbytes))
            offset = _align(offset + b.nbytes)
        for size in self.table_sizes:
            layout_tabs.append((offset, size))
            offset = _align(offset + size)
        self._meta = pickle.dumps((main, layout_bufs, layout_tabs), protocol=5)
        self.total_bytes = _align(_HEADER.size + len(self._meta)) + offset

    def write_into(self, dest: memoryview) -> None:
        """Write the object into ``dest`` (at least ``total_bytes`` long)."""
        import sys
        base = _align(_HEADER.size + len(self._meta))
        _HEADER.pack_into(dest, 0, MAGIC, len(self._meta))
        dest[_HEADER.size:_HEADER.size + len(self._meta)] = self._meta
        main, layout_bufs, layout_tabs = pickle.loads(self._meta)
        dest[base:base + main[1]] = self.pickled
        for (off, n), b in zip(layout_bufs, self.buffers):
            if n:
                if not b.contiguous:
                    b = memoryview(b.tobytes())
                b = b.cast("B") if b.format != "B" or b.ndim != 1 else b
                if n >= PARALLEL_COPY_BYTES:
                    _parallel_copy(dest[base + off:base + off + n], b)
                else:
                    dest[base + off:base + off + n] = b
        if self.tables:
            pa = sys.modules["pyarrow"]
            for (off, n), table in zip(layout_tabs, self.tables):
                sink = pa.FixedSizeBufferWriter(pa.py_buffer(dest[base + off:base + off + n]))
                sink.set_memcopy_threads(COPY_THREADS)
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)

    def to_bytes(self) -> bytes:
        out = bytearray(self.total_bytes)
        self.write_into(memoryview(out))
        return bytes(out)


#: buffers at least this large are copied by several threads (memory bandwidth, not one core)
PARALLEL_COPY_BYTES = 8 << 20
COPY_THREADS = max(1, min(4, os.cpu_count() or 1))


def _parallel_copy(dest: memoryview, src: memoryview) -> None:
    import pyarrow as pa
    sink = pa.FixedSizeBufferWriter(pa.py_buffer(dest))
    sink.set_memcopy_threads(COPY_THREADS)
    sink.write(src)


def _ipc_size(table: Any) -> int:
    import pyarrow as pa
    sink = pa.MockOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.size()


def serialize(value: Any) -> SerializedObject:
    """Pickle ``value`` (cloudpickle, protocol 5), collecting out-of-band buffers,
    Arrow tables and the ids of ObjectRefs it contains."""
    buffers: list = []
    tables: list = []
    contained: list = []
    outer = getattr(_local, "contained", None)
    _local.contained = contained
    try:
        if type(value) is bytes and len(value) < 1 << 20:
            pickled = pickle.dumps(value, protocol=5)
        else:
            f = io.BytesIO()
            _Pickler(f, buffers, tables).dump(value)
            pickled = f.getvalue()
    finally:
        _local.contained = outer
    return SerializedObject(pickled, buffers, tables, contained)


def deserialize(data: bytes | memoryview, *, keep_alive: Any = None) -> Any:
    """Rebuild a value from its serialized bytes. Buffers and tables point into
    ``data`` (zero-copy); ``keep_alive`` is unused but documents that the caller
    must keep the mapping alive, which the memoryviews already do."""
    view = memoryview(data)
    magic, meta_len = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise ValueError("not a streamdata serialized object (bad magic)")
    meta = pickle.loads(view[_HEADER.size:_HEADER.size + meta_len])
    base = _align(_HEADER.size + meta_len)
    main, layout_bufs, layout_tabs = meta
    buffers = [view[base + off:base + off + n] for off, n in layout_bufs]
    tables = []
    if layout_tabs:
        import pyarrow as pa
        for off, n in layout_tabs:
            reader = pa.ipc.open_stream(pa.py_buffer(view[base + off:base + off + n]))
            tables.append(reader.read_all())
    outer = getattr(_local, "tables", None)
    _local.tables = tables
    try:
        return pickle.loads(view[base + main[0]:base + main[0] + main[1]], buffers=buffers)
    finally:
        _local.tables = outer


def dumps_function(fn: Callable | type) -> bytes:
    """Pickle a function or class once (cloudpickle, by value where needed)."""
    f = io.BytesIO()
    _FunctionPickler(f, protocol=5).dump(fn)
    return f.getvalue()


def loads_function(data: bytes) -> Any:
    return pickle.loads(data)


def dumps_exception(exc: BaseException) -> bytes:
    """Pickle an exception, falling back to a picklable stand-in of the same name."""
    try:
        data = cloudpickle.dumps(exc, protocol=5)
        pickle.loads(data)  # some exceptions pickle but cannot be rebuilt
        return data
    except Exception:
        stand_in = type(type(exc).__name__, (Exception,), {"__module__": type(exc).__module__})
        return cloudpickle.dumps(stand_in(str(exc)), protocol=5)
