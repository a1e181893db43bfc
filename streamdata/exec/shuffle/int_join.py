"""Row matching of an inner join on one dense integer key, without a hash table (numpy).

The smaller side is the *build* side, the other one *probes* it. When the build keys
are dense (their range ``max - min + 1`` is at most :data:`DENSE_SPAN_FACTOR` times
their count, or at most :data:`DENSE_MIN_SPAN`), a direct-address table indexed by
``key - min`` gives each probe key's build row in one gather: about 3 ms for 800k
probes into 200k ids on one core, where Arrow's hash join of the key columns takes
~30-40 ms (and sorting the build side and binary-searching it 14 ms for sorted probes,
70-180 ms for shuffled ones). The table holds an int32 per slot (int64 past 2**31 build
rows), so at most ``4 * DENSE_SPAN_FACTOR`` bytes per build row; its arrays live in
Arrow's memory pool (see :func:`_empty`).

Sparse keys are sorted and searched when the probing side comes sorted (then 31 ms
where Arrow takes 51), else left to Arrow's hash join (:func:`match_int_keys` returns
None: searching with shuffled probes took 190 ms where Arrow takes 40-45).

Pairs come in the order of the probing side's rows, equal keys of the build side in
their own order. Null keys never match: :func:`int_key_column` leaves them out and
says where the other rows are.

Temporal keys (dates, times, timestamps, durations) are matched on their integer
storage (both sides have the same type: the join casts the right key to the left's).

Example:
    >>> import numpy as np
    >>> li, ri = match_int_keys(np.array([3, 1, 2, 1]), np.array([1, 3, 5]))
    >>> li.tolist(), ri.tolist()
    ([0, 1, 3], [1, 0, 0])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: a build side whose key range is at most this many times its row count is matched
#: through a direct-address table (else by Arrow's hash join)
DENSE_SPAN_FACTOR = 4
#: key ranges up to this many slots always use the table (512 KiB)
DENSE_MIN_SPAN = 1 << 16
#: probe rows per step of the direct-address lookup
PROBE_CHUNK = 1 << 16

#: the keys of one side: one array, or the arrays of a column's chunks in order
Keys = Union[np.ndarray, list[np.ndarray]]


def _storage_type(t: pa.DataType) -> pa.DataType | None:
    if pa.types.is_integer(t):
        return t
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return pa.int32()
    if pa.types.is_date64(t) or pa.types.is_time64(t) or pa.types.is_timestamp(t) or pa.types.is_duration(t):
        return pa.int64()
    return None


def int_key_column(col: pa.ChunkedArray | pa.Array, *,
                   chunks: bool = False) -> tuple[Keys, np.ndarray | None] | None:
    """``(keys, rows)`` when the fast path applies (an integer or temporal key), else None.

    ``keys`` are the non-null keys as numpy integers; ``rows`` their row positions, or
    None when the column has no nulls (then key ``i`` is row ``i``). With ``chunks``, a
    column without nulls gives the list of its chunks' keys (zero-copy views) instead of
    one concatenated array.

    Example:
        >>> keys, rows = int_key_column(pa.chunked_array([[7, None], [9]]))
        >>> keys.tolist(), rows.tolist()
        ([7, 9], [0, 2])
        >>> int_key_column(pa.chunked_array([["a"]])) is None
        True
    """
    storage = _storage_type(col.type)
    if storage is None:
        return None
    if storage != col.type:  # temporal: its integer storage (a zero-copy view)
        col = (pa.chunked_array([c.view(storage) for c in col.chunks], type=storage)
               if isinstance(col, pa.ChunkedArray) else col.view(storage))
    if not col.null_count:
        if chunks and isinstance(col, pa.ChunkedArray) and col.num_chunks != 1:
            return [c.to_numpy() for c in col.chunks if len(c)], None
        return col.to_numpy(), None
    valid = col.is_valid()
    valid = valid.combine_chunks() if isinstance(valid, pa.ChunkedArray) else valid
    rows = np.flatnonzero(valid.to_numpy(zero_copy_only=False))
    return pc.drop_null(col).to_numpy(), rows


def match_int_keys(left: Keys, right: Keys) -> tuple[np.ndarray, np.ndarray] | None:
    """Row indices ``(left rows, right rows)`` of every pair of equal keys (same dtype), or
    None when the smaller side's keys are too sparse for a direct-address table and the
    larger side is not sorted.

    Either side may be a list of arrays (its rows in order, as chunks of a column).

    Example:
        >>> li, ri = match_int_keys(np.array([1, 2]), np.array([2, 2, 9]))
        >>> li.tolist(), ri.tolist()
        ([1, 1], [0, 1])
        >>> li, ri = match_int_keys([np.array([1, 2]), np.array([9])], np.array([9, 2]))
        >>> li.tolist(), ri.tolist()
        ([1, 2], [1, 0])
        >>> match_int_keys(np.array([2, 1]), np.array([1, 10**12])) is None
        True
        >>> match_int_keys(np.array([1, 2, 10**12]), np.array([10**12, 1]))
        (array([0, 2]), array([1, 0]))
    """
    lparts, rparts = _parts(left), _parts(right)
    nl, nr = sum(len(p) for p in lparts), sum(len(p) for p in rparts)
    swap = nl < nr  # build on the smaller side, probe with the larger
    build_parts, probe = (lparts, rparts) if swap else (rparts, lparts)
    if not nl or not nr:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    build = _contiguous(build_parts)
    lo, hi = int(build.min()), int(build.max())
    if hi - lo + 1 <= max(DENSE_SPAN_FACTOR * len(build), DENSE_MIN_SPAN):
        pi, bi = _match_dense(build, probe, lo, hi)
    elif all(bool(np.all(p[1:] >= p[:-1])) for p in probe):
        pi, bi = _match_sorted(build, _contiguous(probe))
    else:
        return None
    return (bi, pi) if swap else (pi, bi)


def _parts(keys: Keys) -> list[np.ndarray]:
    return [keys] if isinstance(keys, np.ndarray) else [k for k in keys if len(k)]


def _contiguous(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.empty(0, dtype=np.int64)
    out = _empty(sum(len(p) for p in parts), parts[0].dtype)
    return np.concatenate(parts, out=out)


def _expand(pi: np.ndarray, starts: np.ndarray, counts: np.ndarray,
            order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probe row ``pi[k]`` paired with build rows ``order[starts[k]:starts[k] + counts[k]]``."""
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
    return np.repeat(pi, counts), order[np.repeat(starts, counts) + offsets]


def _empty(n: int, dtype: type) -> np.ndarray:
    """An uninitialised array in Arrow's memory pool, which keeps freed pages for the next
    allocation: numpy's own large arrays come from fresh pages on every call in a worker,
    and faulting them in cost more than the join's arithmetic (~0.5 ms per MB)."""
    size = np.dtype(dtype).itemsize
    return np.frombuffer(pa.allocate_buffer(max(n, 1) * size), dtype=dtype)[:n]


def _match_dense(build: np.ndarray, probe: list[np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    span, nb = hi - lo + 1, len(build)
    base = build.dtype.type(lo).astype(np.int64)
    boff = _empty(nb, np.int64)  # build key - lo, in [0, span) (uint64 above 2**63 wraps alike)
    np.subtract(build, base, out=boff, dtype=np.int64, casting="unsafe")
    row_type = np.int32 if nb < 2**31 - 1 else np.int64  # build rows: half the table's bytes
    rows = _empty(nb, row_type)  # 0 .. nb - 1
    np.cumsum(np.broadcast_to(row_type(1), (nb,)), out=rows)
    rows -= 1
    first = _empty(span, row_type)  # slot -> a build row with that key, or -1
    first.fill(-1)
    first[boff] = rows
    if np.count_nonzero(first >= 0) != nb:  # duplicate build keys
        return _match_dense_dups(boff, _contiguous(probe), build.dtype.type(lo), build.dtype.type(hi), base,
                                 span)
    total = sum(len(p) for p in probe)
    chunk_rows = min(PROBE_CHUNK, max(len(p) for p in probe))
    diff, offs, idx = (_empty(chunk_rows, np.int64) for _ in range(3))
    found = _empty(chunk_rows, row_type)
    in_range, hit = _empty(chunk_rows, np.bool_), _empty(chunk_rows, np.bool_)
    local = _empty(chunk_rows, np.int64)  # 0 .. chunk_rows - 1
    np.cumsum(np.broadcast_to(np.int64(1), (chunk_rows,)), out=local)
    local -= 1
    out_p, out_b = _empty(total, np.int64), _empty(total, row_type)
    pos = 0
    for s, chunk in _probe_chunks(probe):  # in chunks: the temporaries stay in cache
        n = len(chunk)
        # key - lo wraps like the build's: a key is in range iff it lands in [0, span)
        np.subtract(chunk, base, out=diff[:n], dtype=np.int64, casting="unsafe")
        np.less(diff[:n].view(np.uint64), np.uint64(span), out=in_range[:n])
        k = int(np.count_nonzero(in_range[:n]))
        np.compress(in_range[:n], diff[:n], out=offs[:k])
        np.compress(in_range[:n], local[:n], out=idx[:k])
        np.take(first, offs[:k], out=found[:k])
        np.greater_equal(found[:k], 0, out=hit[:k])
        m = int(np.count_nonzero(hit[:k]))
        np.compress(hit[:k], idx[:k], out=out_p[pos:pos + m])
        out_p[pos:pos + m] += s
        np.compress(hit[:k], found[:k], out=out_b[pos:pos + m])
        pos += m
    return out_p[:pos], out_b[:pos]


def _probe_chunks(parts: list[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, keys)`` of consecutive pieces of at most :data:`PROBE_CHUNK` rows."""
    start = 0
    for part in parts:
        for s in range(0, len(part), PROBE_CHUNK):
            yield start + s, part[s:s + PROBE_CHUNK]
        start += len(part)


def _match_dense_dups(boff: np.ndarray, probe: np.ndarray, tlo: Any, thi: Any, base: Any,
                      span: int) -> tuple[np.ndarray, np.ndarray]:
    """The direct-address match when build keys repeat: each slot holds a range of the
    build rows sorted by key."""
    counts = np.bincount(boff, minlength=span)
    order = np.argsort(boff, kind="stable")
    starts = np.cumsum(counts) - counts
    out_p: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    for s in range(0, len(probe), PROBE_CHUNK):
        chunk = probe[s:s + PROBE_CHUNK]
        pi = np.flatnonzero((chunk >= tlo) & (chunk <= thi))
        poff = chunk[pi].astype(np.int64)
        poff -= base
        c = counts[poff]
        hit = np.flatnonzero(c)
        pi, bi = _expand(pi[hit], starts[poff[hit]], c[hit], order)
        pi += s
        out_p.append(pi)
        out_b.append(bi)
    if not out_p:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_p), np.concatenate(out_b)


def _match_sorted(build: np.ndarray, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(build, kind="stable")
    keys = build[order]
    lo = np.searchsorted(keys, probe, "left")
    if len(keys) < 2 or bool(np.all(keys[1:] != keys[:-1])):  # unique build keys: one match at most
        hit = keys[np.minimum(lo, len(keys) - 1)] == probe
        pi = np.flatnonzero(hit)
        return pi, order[lo[pi]]
    counts = np.searchsorted(keys, probe, "right") - lo
    pi = np.flatnonzero(counts)
    return _expand(pi, lo[pi], counts[pi], order)


__all__ = ["DENSE_MIN_SPAN", "DENSE_SPAN_FACTOR", "int_key_column", "match_int_keys"]
