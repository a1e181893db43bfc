"""``DataContext.enable_arrow_backed_pandas_conversion``: NumPy dtypes by default (Ray's pre-2.56
conversion, under which UDFs written for either conversion run); Arrow-backed pandas columns
(``pd.ArrowDtype``, Ray 2.60's default) when it is set, in the workers' UDFs as in the driver."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata import block as B
from streamdata.context import DataContext

pytestmark = pytest.mark.usefixtures("data_runtime")

ROWS = [{"id": 1, "name": "a", "score": 1.5}, {"id": None, "name": None, "score": None},
        {"id": 3, "name": "c", "score": 2.5}]


@pytest.fixture
def arrow_backed() -> Iterator[DataContext]:
    """The live context with Arrow-backed conversion on; the old context restored after."""
    old = DataContext.get_current()
    ctx = DataContext(enable_progress_bars=False, enable_arrow_backed_pandas_conversion=True)
    DataContext._set_current(ctx)
    yield ctx
    DataContext._set_current(old)


def _dtypes(batch: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"dtypes": [repr(dict(batch.dtypes))] * len(batch)})


def _ds() -> sd.Dataset:
    return sd.from_arrow(pa.Table.from_pylist(ROWS))


def test_the_default_is_numpy_dtypes_under_which_modulo_runs() -> None:
    assert DataContext().enable_arrow_backed_pandas_conversion is False
    seen = _ds().map_batches(_dtypes, batch_format="pandas", batch_size=None).take_all()
    assert "int64[pyarrow]" not in seen[0]["dtypes"] and "float64" in seen[0]["dtypes"]
    odd = _ds().map_batches(lambda b: b.assign(odd=b["score"].fillna(0) % 2), batch_format="pandas")
    assert [r["odd"] for r in odd.take_all()] == [1.5, 0.0, 0.5]
    assert str(_ds().to_pandas()["name"].dtype) != "string[pyarrow]"


def test_udfs_in_workers_see_arrow_backed_columns(arrow_backed: DataContext) -> None:
    seen = _ds().map_batches(_dtypes, batch_format="pandas", batch_size=None).take_all()
    assert seen[0]["dtypes"] == ("{'id': int64[pyarrow], 'name': string[pyarrow], "
                                 "'score': double[pyarrow]}")


def test_an_int_column_with_nulls_passes_a_pandas_udf_as_ints(arrow_backed: DataContext) -> None:
    out = _ds().map_batches(lambda b: b, batch_format="pandas")
    assert out.schema().base_schema.field("id").type == pa.int64()
    assert [r["id"] for r in out.take_all()] == [1, None, 3]
    numpy_ctx = DataContext(enable_progress_bars=False)  # the default widens to double, as Ray's before 2.56
    DataContext._set_current(numpy_ctx)
    assert _ds().map_batches(lambda b: b, batch_format="pandas").schema().base_schema.field("id").type == pa.float64()


def test_to_pandas_and_iter_batches_are_arrow_backed(arrow_backed: DataContext) -> None:
    frame = _ds().to_pandas()
    assert [str(t) for t in frame.dtypes] == ["int64[pyarrow]", "string[pyarrow]", "double[pyarrow]"]
    assert frame["id"].isna().tolist() == [False, True, False]
    batches = list(_ds().iter_batches(batch_format="pandas", batch_size=2))
    assert [len(b) for b in batches] == [2, 1]
    assert all(str(b["name"].dtype) == "string[pyarrow]" for b in batches)


def test_tensor_dictionary_and_null_columns_convert_as_without_the_flag() -> None:
    table = pa.table({"t": pa.FixedShapeTensorArray.from_numpy_ndarray(np.arange(6).reshape(3, 2)),
                      "c": pa.array(["x", "y", "x"]).dictionary_encode(),
                      "n": pa.nulls(3), "i": [1, 2, 3]})
    frame = B.to_pandas(table, arrow_backed=True)
    assert frame["t"].dtype == object and frame["t"][2].tolist() == [4, 5]
    assert isinstance(frame["c"].dtype, pd.CategoricalDtype)
    assert frame["n"].dtype == object
    assert str(frame["i"].dtype) == "int64[pyarrow]"
