"""Rows as Python dicts and back, for the row UDFs (``map``, ``flat_map``, ``filter(fn)``)
and ``iter_rows``: the per-cell loops, written so that CPython runs them fast.

Arrow → rows: each column becomes a Python list once (``to_pylist``, a C loop), then one
generated list comprehension builds every row as a dict literal with the column names as
constants (no per-row function call, no ``zip(names, values)`` per row). Rows → columns:
when every row is a ``dict`` with the same keys (what a row UDF nearly always returns),
one list comprehension per column.

Pure Python on purpose (no pyarrow): :mod:`streamdata.block` builds on it.

Example:
    >>> rows_from_columns(["a", "b"], [[1, 2], ["x", "y"]], 2)
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    >>> columns_of_rows([{"a": 1, "b": "x"}, {"b": "y", "a": 2}])
    {'a': [1, 2], 'b': ['x', 'y']}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: generated row builders by column names (cleared when it grows past _MAX_MAKERS)
_MAKERS: dict[tuple[str, ...], Callable[..., list[dict[str, Any]]]] = {}
_MAX_MAKERS = 256
#: wider than this, rows are built by ``dict(zip(names, values))`` (no code generated)
_MAX_GENERATED_COLUMNS = 256


def _generic_maker(names: tuple[str, ...]) -> Callable[..., list[dict[str, Any]]]:
    def make(*columns: Sequence[Any]) -> list[dict[str, Any]]:
        return [dict(zip(names, values)) for values in zip(*columns)]
    return make


def _maker(names: tuple[str, ...]) -> Callable[..., list[dict[str, Any]]]:
    maker = _MAKERS.get(names)
    if maker is not None:
        return maker
    if len(names) > _MAX_GENERATED_COLUMNS or not all(type(n) is str for n in names):
        maker = _generic_maker(names)
    else:
        # e.g. def make(c0, c1): return [{'a': v0, 'b': v1} for v0, v1 in zip(c0, c1)]
        # the names enter the source only as repr() of str: always a plain string literal
        args = ", ".join(f"c{i}" for i in range(len(names)))
        values = ", ".join(f"v{i}" for i in range(len(names)))
        body = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
        src = f"def make({args}):\n    return [{{{body}}} for {values}, in zip({args})]\n"
        namespace: dict[str, Any] = {}
        exec(compile(src, "<streamdata.block_rows>", "exec"), namespace)  # noqa: S102
        maker = namespace["make"]
    if len(_MAKERS) >= _MAX_MAKERS:
        _MAKERS.clear()
    _MAKERS[names] = maker
    return maker


def rows_from_columns(names: Sequence[str], columns: Sequence[Sequence[Any]],
                      num_rows: int) -> list[dict[str, Any]]:
    """Row ``i`` is ``{names[j]: columns[j][i]}`` (a repeated name keeps its last column,
    as ``pyarrow.Table.to_pylist`` does); ``num_rows`` rows even without columns.

    Example:
        >>> rows_from_columns([], [], 2)
        [{}, {}]
        >>> rows_from_columns(["a", "a"], [[1], [2]], 1)
        [{'a': 2}]
    """
    if not names:
        return [{} for _ in range(num_rows)]
    return _maker(tuple(names))(*columns)


def columns_of_rows(rows: list[Any], keys: Sequence[str] | None = None) -> dict[str, list[Any]] | None:
    """The columns of ``rows`` when every row is a ``dict`` with the same keys (in any order),
    keyed in the first row's order; None otherwise (the caller takes the general path).

    Args:
        rows: the rows (a list).
        keys: only these columns: every row a ``dict`` holding each of them (other keys may
            vary from row to row), else None.

    Example:
        >>> columns_of_rows([{"a": 1}, {"a": 2, "b": 3}]) is None
        True
        >>> columns_of_rows([{"a": 1, "b": 2}, {"b": 3}], keys=["b"])
        {'b': [2, 3]}
    """
    if not rows or set(map(type, rows)) != {dict}:
        return None
    if keys is None:
        keys = list(rows[0])
        if sum(map(len, rows)) != len(keys) * len(rows):
            return None  # some row has another number of keys
        # the same count everywhere: with no KeyError, every row has exactly these keys
    try:
        return {k: [r[k] for r in rows] for k in keys}
    except KeyError:
        return None


__all__ = ["columns_of_rows", "rows_from_columns"]
