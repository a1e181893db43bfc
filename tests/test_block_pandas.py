"""``block_pandas.frame_to_table``: exactly ``pa.Table.from_pandas(df, preserve_index=False)``
(values, nulls, types, schema metadata) for the frames it takes, None for the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdata import block as B
from streamdata.block_pandas import frame_to_table, source_string_columns


def _reference(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False, nthreads=1)


def _same(got: pa.Table | None, want: pa.Table) -> None:
    assert got is not None
    assert got.schema.equals(want.schema, check_metadata=True), (got.schema, want.schema)
    assert got.equals(want)
    for name in want.column_names:  # nulls where from_pandas has them (equals ignores nothing, but be plain)
        assert got.column(name).null_count == want.column(name).null_count


FRAMES = {
    "ints, floats, bools": lambda: pd.DataFrame({
        "i8": np.arange(5, dtype=np.int8), "i64": np.arange(5, dtype=np.int64) - 2,
        "u32": np.arange(5, dtype=np.uint32), "f32": np.array([1.5, np.nan, -0.0, np.inf, 2], dtype=np.float32),
        "f64": [np.nan, 1.0, np.nan, -np.inf, 3.25], "b": [True, False, True, True, False]}),
    "all NaN": lambda: pd.DataFrame({"f": [np.nan] * 3}),
    "empty": lambda: pd.DataFrame({"a": np.array([], dtype=np.float64), "n": np.array([], dtype=np.int64)}),
    "pandas str with missing": lambda: pd.DataFrame({"s": pd.array(["x", None, "z"], dtype="str"),
                                                      "n": [1, 2, 3]}),
    "arrow dtypes": lambda: pd.DataFrame({"a": pd.array([1, None, 3], dtype=pd.ArrowDtype(pa.int32())),
                                          "s": pd.array(["p", "q", None], dtype=pd.ArrowDtype(pa.string()))}),
    "non-range index": lambda: pd.DataFrame({"a": [1.0, 2.0]}, index=[10, 7]),
    "named column index": lambda: pd.DataFrame({"a": [1.0], "b": [2]}).rename_axis("cols", axis=1),
    "a sliced frame": lambda: pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10)}).iloc[2:8],
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_equals_from_pandas(name: str) -> None:
    df = FRAMES[name]()
    _same(frame_to_table(df), _reference(df))
    _same(frame_to_table(df), _reference(df))  # the second time from the cached schema


@pytest.mark.parametrize("make", [
    lambda: pd.DataFrame({"o": pd.Series([1, "x"], dtype=object)}),
    lambda: pd.DataFrame({"t": pd.to_datetime(["2024-01-01", None])}),
    lambda: pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}),
    lambda: pd.DataFrame({"m": pd.array([1, None], dtype="Int64")}),
    lambda: pd.DataFrame({"f16": np.array([1, 2], dtype=np.float16)}),
    lambda: pd.DataFrame({1: [1.0], "a": [2.0]}),
    lambda: pd.DataFrame(np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])),
    lambda: pd.DataFrame(index=range(3)),
], ids=["object", "datetime", "categorical", "masked Int64", "float16", "non-str name", "MultiIndex",
        "no columns (rows only)"])
def test_other_columns_are_left_to_from_pandas(make) -> None:  # type: ignore[no-untyped-def]
    df = make()
    assert frame_to_table(df) is None
    B.pandas_to_table(df)  # the caller's fallback still converts (or raises as before)


def test_a_cached_schema_never_serves_a_frame_of_other_dtypes() -> None:
    _same(frame_to_table(pd.DataFrame({"a": [1, 2]})), _reference(pd.DataFrame({"a": [1, 2]})))
    other = pd.DataFrame({"a": [1.5, np.nan]})  # same name, another dtype
    _same(frame_to_table(other), _reference(other))


def test_pandas_to_table_takes_the_fast_path_and_the_udf_result_is_unchanged() -> None:
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "s": pd.array(["x", None, "y"], dtype="str")})
    df["c"] = df["a"] * 2
    got = B.pandas_to_table(df)
    assert got.column("c").to_pylist() == [2.0, None, 6.0]  # NaN became null, as from_pandas does
    _same(got, _reference(df))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
                          st.integers(-2**40, 2**40), st.booleans()), max_size=40))
def test_any_numeric_frame_equals_from_pandas(rows) -> None:  # type: ignore[no-untyped-def]
    df = pd.DataFrame({"f": np.array([np.nan if r[0] is None else r[0] for r in rows], dtype=np.float64),
                       "i": np.array([r[1] for r in rows], dtype=np.int64),
                       "b": np.array([r[2] for r in rows], dtype=bool)})
    _same(frame_to_table(df), _reference(df))


def test_a_frame_of_a_parametrized_arrow_dtype_comes_back_from_arrow() -> None:
    """pandas names ``pd.ArrowDtype(pa.list_(pa.uint8(), 3))`` in the table's metadata in a form its own
    ``to_pandas`` refuses to parse; the block converts that column as Arrow's default instead."""
    import pandas as pd
    import pyarrow as pa

    from streamdata import block as B

    arr = pa.array([[1, 2, 3], [4, 5, 6]], pa.list_(pa.uint8(), 3))
    table = B.pandas_to_table(pd.DataFrame({"x": pd.Series(arr, dtype=pd.ArrowDtype(arr.type)), "y": [1, 2]}))
    with pytest.raises(NotImplementedError):  # what pandas does with the metadata as written
        table.to_pandas()
    back = B.to_pandas(table)
    assert [v.tolist() for v in back["x"]] == [[1, 2, 3], [4, 5, 6]] and back["y"].tolist() == [1, 2]


# ---------------------------------------------------------------------------- source_string_columns
def test_a_source_frames_string_columns_become_arrow_string() -> None:
    """Ray 2.60's schema of ``from_pandas`` gives every pandas ``StringDtype`` column (pandas 3's
    default ``str``, ``string[pyarrow]``, ``string[python]``) the type ``string``; an
    ``ArrowDtype(large_string)`` column stays ``large_string`` and an object column of str,
    which Ray converts with ``pa.array``, is ``string`` already."""
    df = pd.DataFrame({"str": ["a", None, "c"], "pyarrow": pd.array(["a", None, "c"], dtype="string[pyarrow]"),
                       "python": pd.array(["a", None, "c"], dtype="string[python]"),
                       "large": pd.array(["a", None, "c"], dtype=pd.ArrowDtype(pa.large_string())),
                       "object": pd.Series(["a", None, "c"], dtype=object), "n": [1, 2, 3]})
    before = B.pandas_to_table(df)
    assert before.schema.field("str").type == pa.large_string()  # pandas 3's str holds large_string
    table = source_string_columns(before, df.dtypes)
    assert table.schema.types == [pa.string(), pa.string(), pa.string(), pa.large_string(), pa.string(), pa.int64()]
    assert table.column("str").to_pylist() == ["a", None, "c"] == table.column("pyarrow").to_pylist()
    assert table.schema.metadata == before.schema.metadata  # to_pandas still rebuilds the frame's dtypes
    assert B.to_pandas(table)["str"].dtype == df["str"].dtype


def test_the_characters_are_shared_not_copied() -> None:
    df = pd.DataFrame({"s": ["x" * 100, "y" * 50] * 1000})
    before = B.pandas_to_table(df)
    after = source_string_columns(before, df.dtypes)
    chars = [c.buffers()[2].address for c in before.column("s").chunks]
    assert [c.buffers()[2].address for c in after.column("s").chunks] == chars


def test_a_column_past_2_gib_of_characters_stays_large_string() -> None:
    """string's 32-bit offsets cannot address it. The values buffer here claims 3 GiB over a few
    real bytes (nothing reads the characters: the cast only checks the offsets)."""
    real = pa.py_buffer(b"abc")
    offsets = pa.py_buffer(np.array([0, 1, 3 * 2**30], dtype=np.int64).tobytes())
    huge = pa.Array.from_buffers(pa.large_string(), 2, [None, offsets, pa.foreign_buffer(real.address, 3 * 2**30, base=real)])
    small = pa.array(["a", "b"], pa.large_string())
    table = pa.table({"huge": huge, "small": small})
    out = source_string_columns(table, [pd.StringDtype("pyarrow")] * 2)
    assert out.schema.field("huge").type == pa.large_string() and out.schema.field("small").type == pa.string()


def test_other_columns_and_mismatched_dtypes_are_left_as_they_are() -> None:
    table = pa.table({"s": pa.array(["a"], pa.large_string()), "n": [1]})
    assert source_string_columns(table, [np.dtype("int64")]) is table  # not one dtype per column
    assert source_string_columns(table, [np.dtype(object), np.dtype("int64")]).equals(table)
