"""Hash partitioning: a row hash of key columns that is the same in every process.

Python's ``hash`` of strings changes from process to process, so rows are hashed
with numpy: numbers through their float64 value (so ``1``, ``1.0`` and ``int32(1)``
land together, as a join of an int column with a float column needs), strings and
binaries with a polynomial hash of their bytes, nulls with a constant; several key
columns are combined, and the result is mixed with the splitmix64 finalizer.

Equal keys always get equal hashes; different keys may collide (harmless: they
only share a partition).

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"k": ["a", "b", "a", None]})
    >>> h = hash_rows(t, ["k"])
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    >>> [p.num_rows for p in hash_partition(t, ["k"], 3)] == [int((h % 3 == i).sum()) for i in range(3)]
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.exec.shuffle.grouping import check_columns

_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_NAN_HASH = np.uint64(0x7FF8DEADBEEF0001)
_PRIME = np.uint64(0x100000001B3)
_STR_BASE = np.uint64(0x5BD1E9955BD1E995)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer (uint64 → well-spread uint64)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _numeric_hash(arr: pa.Array) -> np.ndarray:
    values = pc.cast(arr, pa.float64(), safe=False) if not pa.types.is_float64(arr.type) else arr
    f = np.asarray(pc.fill_null(values, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64) + 0.0
    bits = f.view(np.uint64).copy()
    bits[np.isnan(f)] = _NAN_HASH
    return _mix(bits)


def _temporal_hash(arr: pa.Array) -> np.ndarray:
    width = arr.type.bit_width
    ints = arr.view(pa.int64() if width == 64 else pa.int32())
    v = np.asarray(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return _mix(v.view(np.uint64))


def _bytes_hash(arr: pa.Array) -> np.ndarray:
    """Polynomial hash of each value's bytes, vectorized over the whole array."""
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        offsets_type = np.int32
    else:  # large_string / large_binary
        offsets_type = np.int64
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=offsets_type)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    out = np.zeros(n, dtype=np.uint64)
    if last > first:
        raw = data[first:last].astype(np.uint64) + np.uint64(1)
        starts = offsets[:-1] - first
        pos = np.arange(last - first, dtype=np.int64) - np.repeat(starts, lengths)
        max_len = int(lengths.max())
        with np.errstate(over="ignore"):
            powers = np.multiply.accumulate(np.full(max_len, _STR_BASE, dtype=np.uint64))
            contrib = raw * powers[pos]
            nonempty = lengths > 0
            out[nonempty] = np.add.reduceat(contrib, starts[nonempty])
    with np.errstate(over="ignore"):
        out ^= lengths.astype(np.uint64) * _PRIME
    return _mix(out)


def _column_hash(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if isinstance(arr, pa.ChunkedArray):  # combine_chunks of a nested type may stay chunked
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks else pa.array([], arr.type)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if pa.types.is_null(t):
        return np.full(len(arr), _NULL_HASH, dtype=np.uint64)
    if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)):
        h = _numeric_hash(arr)
    elif pa.types.is_temporal(t):
        h = _temporal_hash(arr)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t):
        h = _bytes_hash(arr)
    elif pa.types.is_fixed_size_binary(t):
        h = _bytes_hash(arr.cast(pa.binary()))
    else:  # nested or exotic: hash a canonical text form (slow, rare)
        h = _bytes_hash(pa.array([repr(v) for v in arr.to_pylist()], type=pa.large_string()))
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        h[~valid] = _NULL_HASH
    return h


def hash_rows(table: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """A uint64 hash per row of the ``keys`` columns, equal for equal keys in any process.

    Example:
        >>> t = pa.table({"a": [1, 1], "b": [1.0, 1.0]})
        >>> h = hash_rows(t, ["a", "b"]); bool(h[0] == h[1])
        True
    """
    check_columns(table.schema, keys)
    h = np.full(table.num_rows, np.uint64(0x2545F4914F6CDD1D), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in keys:
            h = _mix(h * _PRIME ^ _column_hash(table.column(key)))
    return h


def partition_by_ids(block: pa.Table, part_ids: np.ndarray, num_parts: int) -> list[pa.Table]:
    """``block`` cut into ``num_parts`` tables; row ``r`` goes to ``part_ids[r]`` (order kept).

    Example:
        >>> [p.column("x").to_pylist() for p in partition_by_ids(pa.table({"x": [1, 2, 3]}), np.array([1, 0, 1]), 2)]
        [[2], [1, 3]]
    """
    if num_parts == 1:
        return [block]
    small = np.uint8 if num_parts <= 256 else np.uint16 if num_parts <= 65536 else np.int64
    order = np.argsort(part_ids.astype(small, copy=False), kind="stable")  # radix sort when small
    counts = np.bincount(part_ids, minlength=num_parts)
    ordered = block.take(pa.array(order)) if block.num_rows else block
    edges = np.concatenate([[0], np.cumsum(counts)])
    return [ordered.slice(int(a), int(b - a)) for a, b in zip(edges[:-1], edges[1:])]


def hash_partition(block: pa.Table, keys: Sequence[str], num_parts: int) -> list[pa.Table]:
    """``block`` cut into ``num_parts`` tables by the hash of its ``keys`` columns.

    Rows with equal keys land in the same part, whatever block they come from.

    Example:
        >>> parts = hash_partition(pa.table({"k": [1, 2, 1, 2]}), ["k"], 2)
        >>> sorted(sorted(set(p.column("k").to_pylist())) for p in parts if p.num_rows)
        [[1], [2]]
    """
    h = hash_rows(block, keys)
    ids = (h % np.uint64(num_parts)).astype(np.int64)
    return partition_by_ids(block, ids, num_parts)


__all__ = ["hash_partition", "hash_rows", "partition_by_ids"]
