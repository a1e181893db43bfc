"""Join kernel: one partition of a hash join (both sides hash-partitioned on the keys).

Arrow's hash join matches the key columns only; payload columns are then gathered
with ``take``, so any column type (tensors, nested, Python objects) can ride along.
A join on one dense integer (or temporal) key matches rows without a hash table
instead (:mod:`streamdata.exec.shuffle.int_join`).
Keys are coalesced (one set of key columns, named as the left side's); columns
present on both sides get ``left_suffix`` / ``right_suffix``. Null keys never
match (SQL semantics).

Example:
    >>> import pyarrow as pa
    >>> left = pa.table({"id": [1, 2, 3], "a": ["x", "y", "z"]})
    >>> right = pa.table({"id": [3, 1, 4], "b": [30, 10, 40]})
    >>> out = join_tables(left, right, ["id"], ["id"], "inner")
    >>> sorted(out.to_pylist(), key=lambda r: r["id"])
    [{'id': 1, 'a': 'x', 'b': 10}, {'id': 3, 'a': 'z', 'b': 30}]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import PlanError, SchemaError
from streamdata.exec.shuffle.grouping import check_columns
from streamdata.exec.shuffle.int_join import int_key_column, match_int_keys

#: join types the hash-table-free match serves (all of them)
_NO_HASH_TYPES = ("inner", "left_outer", "right_outer", "full_outer", "left_semi", "left_anti", "right_semi",
                  "right_anti")

JOIN_TYPES = {
    "inner": "inner", "left_outer": "left outer", "right_outer": "right outer",
    "full_outer": "full outer", "left_semi": "left semi", "right_semi": "right semi",
    "left_anti": "left anti", "right_anti": "right anti",
}


def join_output_names(left: pa.Schema, right: pa.Schema, left_keys: Sequence[str],
                      right_keys: Sequence[str], join_type: str, left_suffix: str | None,
                      right_suffix: str | None) -> tuple[list[str], list[str]]:
    """(left output names, right payload output names) of a join; raises on collisions
    that no suffix resolves.

    Example:
        >>> s = pa.schema([("id", pa.int64()), ("v", pa.int64())])
        >>> join_output_names(s, s, ["id"], ["id"], "inner", "_l", "_r")
        (['id', 'v_l'], ['v_r'])
    """
    if join_type not in JOIN_TYPES:
        raise PlanError(f"join_type must be one of {list(JOIN_TYPES)}, got {join_type!r}")
    if len(left_keys) != len(right_keys) or not left_keys:
        raise PlanError(f"join needs the same number (>= 1) of left and right keys, got "
                        f"{list(left_keys)} and {list(right_keys)}")
    check_columns(left, left_keys)
    check_columns(right, right_keys)
    if join_type in ("left_semi", "left_anti"):
        return list(left.names), []
    if join_type in ("right_semi", "right_anti"):
        return [], list(right.names)
    right_payload = [n for n in right.names if n not in right_keys]
    clash = set(left.names) & set(right_payload)
    if clash and left_suffix is None and right_suffix is None:
        raise SchemaError(f"both sides of the join have columns {sorted(clash)}; "
                          "pass left_suffix= and/or right_suffix= to tell them apart")
    left_names = [n + (left_suffix or "") if n in clash and n not in left_keys else n for n in left.names]
    right_names = [n + (right_suffix or "") if n in clash else n for n in right_payload]
    dupes = sorted({n for n in left_names + right_names if (left_names + right_names).count(n) > 1})
    if dupes:
        raise SchemaError(f"join output would have duplicate columns {dupes}; choose other suffixes")
    return left_names, right_names


def join_tables(left: pa.Table, right: pa.Table, left_keys: Sequence[str], right_keys: Sequence[str],
                join_type: str = "inner", *, left_suffix: str | None = None,
                right_suffix: str | None = None, columns: Collection[str] | None = None) -> pa.Table:
    """Join two tables (one partition of a distributed join).

    ``columns`` (output names) keeps only those columns, in output order, and gathers
    no others; with none left the table has no columns but the joined row count.

    Example:
        >>> l = pa.table({"k": [1, 2]}); r = pa.table({"k": [2, 3], "v": [20, 30]})
        >>> sorted(join_tables(l, r, ["k"], ["k"], "full_outer").to_pylist(), key=lambda x: x["k"])
        [{'k': 1, 'v': None}, {'k': 2, 'v': 20}, {'k': 3, 'v': 30}]
    """
    left_names, right_names = join_output_names(left.schema, right.schema, left_keys, right_keys,
                                                join_type, left_suffix, right_suffix)
    knames = [f"__sd_k{i}" for i in range(len(left_keys))]
    lk = [left.column(k) for k in left_keys]
    rk = [_conform_key(right.column(rkey), l.type, lkey, rkey)
          for rkey, lkey, l in zip(right_keys, left_keys, lk)]
    if len(lk) == 1 and join_type in _NO_HASH_TYPES:  # one dense integer key: see int_join
        pairs = _int_key_pairs(lk[0], rk[0])
        if pairs is not None:
            return _join_from_pairs(left, right, left_keys[0], rk[0], right_keys, join_type, *pairs,
                                    left_names, right_names, columns)
    lt = pa.Table.from_arrays(lk + [pa.array(np.arange(left.num_rows, dtype=np.int64))],
                              names=knames + ["__sd_l"])
    rt = pa.Table.from_arrays(rk + [pa.array(np.arange(right.num_rows, dtype=np.int64))],
                              names=knames + ["__sd_r"])
    joined = lt.join(rt, keys=knames, join_type=JOIN_TYPES[join_type], coalesce_keys=True,
                     use_threads=False)
    if join_type in ("left_semi", "left_anti"):
        return _select(left.take(joined.column("__sd_l")), columns)
    if join_type in ("right_semi", "right_anti"):
        return _select(right.take(joined.column("__sd_r")), columns)
    lpart = left.take(joined.column("__sd_l"))
    if join_type in ("right_outer", "full_outer"):
        for i, key in enumerate(left_keys):  # keys of right-only rows come from the right side
            pos = lpart.schema.get_field_index(key)
            col = joined.column(knames[i])
            lpart = lpart.set_column(pos, lpart.schema.field(pos), col.cast(lpart.schema.field(pos).type))
    rpart = right.drop_columns(list(right_keys)).take(joined.column("__sd_r"))
    arrays = list(lpart.columns) + list(rpart.columns)
    return _select(pa.Table.from_arrays(arrays, names=left_names + right_names), columns)


def _int_key_pairs(lcol: pa.ChunkedArray, rcol: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(left rows, right rows)`` of every matching pair, when the keys allow the
    hash-table-free match (else None: Arrow's hash join)."""
    lnp, rnp = int_key_column(lcol, chunks=True), int_key_column(rcol, chunks=True)
    if lnp is None or rnp is None:
        return None
    matched = match_int_keys(lnp[0], rnp[0])
    if matched is None:
        return None
    li, ri = matched
    if lnp[1] is not None:  # positions of the non-null keys
        li = lnp[1][li]
    if rnp[1] is not None:
        ri = rnp[1][ri]
    return li, ri


def _join_from_pairs(left: pa.Table, right: pa.Table, left_key: str, right_key: pa.ChunkedArray,
                     right_keys: Sequence[str], join_type: str, li: np.ndarray, ri: np.ndarray,
                     left_names: list[str], right_names: list[str],
                     columns: Collection[str] | None) -> pa.Table:
    """The joined table from the matching pairs: semi/anti joins keep the rows of one side
    with (without) a match, outer joins add the unmatched rows of their side(s), with
    nulls for the other side's columns (and the key from the right for right-only rows)."""
    if join_type in ("left_semi", "left_anti", "right_semi", "right_anti"):
        side, hits = (left, li) if join_type.startswith("left") else (right, ri)
        matched = np.zeros(side.num_rows, dtype=bool)
        matched[hits] = True
        return _select(side.take(np.flatnonzero(matched if join_type.endswith("semi") else ~matched)), columns)
    lrows: np.ndarray | pa.Array = li
    rrows: np.ndarray | pa.Array = ri
    right_rows_key = join_type in ("right_outer", "full_outer")  # right-only rows: the right's key
    if join_type in ("left_outer", "right_outer", "full_outer"):
        none = np.empty(0, dtype=np.int64)
        left_only = _unmatched(left.num_rows, li) if join_type != "right_outer" else none
        right_only = _unmatched(right.num_rows, ri) if join_type != "left_outer" else none
        # rows: the pairs, then the left-only rows, then the right-only rows
        lrows = _rows_then_nulls([li, left_only], len(right_only), none)
        rrows = _rows_then_nulls([ri], len(left_only), right_only)
    rpayload = right.drop_columns(list(right_keys))
    keep_l, keep_r = list(range(left.num_columns)), list(range(rpayload.num_columns))
    if columns is not None:  # gather only the columns asked for
        keep_l = [i for i in keep_l if left_names[i] in columns]
        keep_r = [i for i in keep_r if right_names[i] in columns]
        if not keep_l and not keep_r:
            return pa.table({"_": pa.nulls(len(lrows))}).drop_columns(["_"])
    lpart = left.select(keep_l).take(lrows)
    key_pos = left.schema.get_field_index(left_key)
    if right_rows_key and key_pos in keep_l:  # the left key where the row has one, else the right's
        j = keep_l.index(key_pos)
        key = pc.coalesce(lpart.column(j), right_key.take(rrows))
        lpart = lpart.set_column(j, lpart.schema.field(j), key)
    rpart = rpayload.select(keep_r).take(rrows)
    return pa.Table.from_arrays(list(lpart.columns) + list(rpart.columns),
                                names=[left_names[i] for i in keep_l] + [right_names[i] for i in keep_r])


def _unmatched(n: int, hits: np.ndarray) -> np.ndarray:
    """Rows of ``range(n)`` not in ``hits``, in order."""
    free = np.ones(n, dtype=bool)
    free[hits] = False
    return np.flatnonzero(free)


def _rows_then_nulls(before: list[np.ndarray], nulls: int, after: np.ndarray) -> np.ndarray | pa.Array:
    """Row indices: ``before``, then ``nulls`` null indices (``take`` gives nulls there), then
    ``after``."""
    values = np.concatenate([*(b.astype(np.int64, copy=False) for b in before), np.zeros(nulls, dtype=np.int64),
                             after])
    if not nulls:
        return values
    head = sum(len(b) for b in before)
    mask = np.zeros(len(values), dtype=bool)
    mask[head:head + nulls] = True
    return pa.array(values, mask=mask)


def _select(table: pa.Table, columns: Collection[str] | None) -> pa.Table:
    return table if columns is None else table.select([n for n in table.column_names if n in columns])


def _conform_key(col: pa.ChunkedArray, target: pa.DataType, lkey: str, rkey: str) -> pa.ChunkedArray:
    if col.type == target:
        return col
    try:
        return col.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(f"join keys {lkey!r} ({target}) and {rkey!r} ({col.type}) have "
                          "incompatible types") from exc


__all__ = ["JOIN_TYPES", "join_output_names", "join_tables"]
