"""Rows as dicts and back (streamdata/block_rows.py, and block.iter_rows / row_chunks /
rows_to_table built on it): the same values as pyarrow's own ``to_pylist`` for every kind of
column, and the general path whenever rows differ in shape."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pytest

from streamdata import block as B
from streamdata import block_rows as R


def _many_types(n: int) -> pa.Table:
    ints = list(range(n))
    return pa.table({
        "i8": pa.array([i % 100 for i in ints], pa.int8()),
        "u64": pa.array(ints, pa.uint64()),
        "f32": pa.array([i / 4 for i in ints], pa.float32()),
        "f64": pa.array([None if i % 3 == 0 else i / 3 for i in ints]),
        "nan": pa.array([float("nan") if i % 2 else 1.0 for i in ints]),
        "b": pa.array([i % 2 == 0 for i in ints]),
        "s": pa.array([None if i % 5 == 0 else f"s{i}" for i in ints]),
        "ls": pa.array([f"l{i}" for i in ints], pa.large_string()),
        "dict": pa.array([f"d{i % 3}" for i in ints]).dictionary_encode(),
        "bin": pa.array([bytes([i % 256]) for i in ints]),
        "ts": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i) for i in ints]),
        "date": pa.array([dt.date(2024, 1, 1 + i % 28) for i in ints]),
        "dec": pa.array([decimal.Decimal(i) / 100 for i in ints], pa.decimal128(10, 2)),
        "list": pa.array([[i, i + 1] if i % 4 else None for i in ints]),
        "struct": pa.array([{"x": i, "y": {"z": str(i)}} for i in ints]),
        "map": pa.array([[("k", i)] for i in ints], pa.map_(pa.string(), pa.int64())),
        "null": pa.nulls(n),
    })


@pytest.mark.parametrize("chunk_rows", [1, 7, 8192])
def test_rows_equal_pyarrows_to_pylist_for_every_kind_of_column(chunk_rows: int) -> None:
    table = _many_types(50)
    table = pa.concat_tables([table.slice(0, 13), table.slice(13)])  # several chunks
    rows = [r for chunk in B.row_chunks(table, chunk_rows) for r in chunk]
    expected = table.to_pylist()
    assert len(rows) == len(expected) == 50
    for got, want in zip(rows, expected):
        assert list(got) == list(want)
        for k in want:
            if isinstance(want[k], float) and want[k] != want[k]:
                assert got[k] != got[k]  # NaN stays NaN
            else:
                assert got[k] == want[k] and type(got[k]) is type(want[k]), k
    assert list(B.iter_rows(table))[6] == rows[6]


def test_rows_are_independent_mutable_dicts() -> None:
    rows = list(B.iter_rows(pa.table({"a": [1, 2]})))
    rows[0]["a"] = 99
    rows[0]["new"] = 1
    assert rows[1] == {"a": 2} and type(rows[0]) is dict


def test_tensor_and_object_cells_are_numpy_arrays_and_objects() -> None:
    fixed = B.numpy_to_table({"t": np.arange(12).reshape(3, 2, 2)})
    rows = list(B.iter_rows(fixed))
    assert isinstance(rows[1]["t"], np.ndarray) and rows[1]["t"].tolist() == [[4, 5], [6, 7]]
    ragged = B.rows_to_table([{"t": np.zeros(2)}, {"t": np.ones(3)}])
    assert [r["t"].tolist() for r in B.iter_rows(ragged)] == [[0, 0], [1, 1, 1]]
    objs = B.rows_to_table([{"o": 1j}, {"o": None}])  # Arrow has no type for it: pickled
    assert [r["o"] for r in B.iter_rows(objs)] == [1j, None]


def test_a_table_without_columns_still_has_its_rows() -> None:
    table = pa.table({"x": [1, 2, 3]}).select([])
    assert list(B.iter_rows(table)) == [{}, {}, {}]
    assert list(B.iter_rows(pa.table({"x": pa.array([], pa.int64())}))) == []


@pytest.mark.parametrize("names", [
    ["a"], ["a", "b"], ["it's", 'say "hi"', "back\\slash", "new\nline", "ünï", ""],
    ["'}] + __import__('os').getpid() + [{'"],  # a name is data, never code
    ["dup", "dup"],
])
def test_rows_from_columns_keeps_any_column_name_verbatim(names: list[str]) -> None:
    cols = [[f"{i}-{j}" for j in range(3)] for i in range(len(names))]
    rows = R.rows_from_columns(names, cols, 3)
    assert rows == [{n: cols[i][j] for i, n in enumerate(names)} for j in range(3)]


def test_wide_tables_and_many_schemas_take_the_generic_builder() -> None:
    names = [f"c{i}" for i in range(R._MAX_GENERATED_COLUMNS + 5)]
    rows = R.rows_from_columns(names, [[i, -i] for i in range(len(names))], 2)
    assert rows[1]["c260"] == -260 and len(rows[0]) == len(names)
    for i in range(R._MAX_MAKERS + 3):  # the cache of builders stays bounded
        assert R.rows_from_columns([f"x{i}"], [[i]], 1) == [{f"x{i}": i}]
    assert len(R._MAKERS) <= R._MAX_MAKERS


def test_columns_of_rows_only_when_every_row_is_a_dict_of_the_same_keys() -> None:
    assert R.columns_of_rows([{"a": 1, "b": 2}, {"b": 3, "a": 4}]) == {"a": [1, 4], "b": [2, 3]}
    assert R.columns_of_rows([]) is None
    assert R.columns_of_rows([{"a": 1}, {"b": 2}]) is None  # same count, other keys
    assert R.columns_of_rows([{"a": 1}, {"a": 1, "b": 2}]) is None
    assert R.columns_of_rows([{"a": 1}, pa]) is None  # not a dict
    from collections import OrderedDict
    assert R.columns_of_rows([OrderedDict(a=1)]) is None  # dict subclasses take the general path
    # only some columns: other keys may vary, the wanted ones must be everywhere
    assert R.columns_of_rows([{"a": 1, "x": 0}, {"a": 2}], keys=["a"]) == {"a": [1, 2]}
    assert R.columns_of_rows([{"a": 1}, {"b": 2}], keys=["a"]) is None
    assert R.columns_of_rows([{"a": 1}], keys=[]) == {}


def test_rows_to_table_general_path_is_unchanged_for_rows_of_other_shapes() -> None:
    t = B.rows_to_table([{"a": 1}, {"b": "x", "a": 2}, {"b": "y"}])
    assert t.column_names == ["a", "b"]
    assert t.to_pydict() == {"a": [1, 2, None], "b": [None, "x", "y"]}
    t = B.rows_to_table([{"a": 1, "b": 2.5}, {"b": None, "a": None}])
    assert t.schema.types == [pa.int64(), pa.float64()] and t.to_pydict() == {"a": [1, None], "b": [2.5, None]}
    mixed = B.rows_to_table([{"v": 1}, {"v": "x"}])  # no one Arrow type: pickled objects
    assert [r["v"] for r in B.iter_rows(mixed)] == [1, "x"]
