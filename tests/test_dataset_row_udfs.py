"""Row UDFs (``map``, ``flat_map``) end to end, where the plan changes what is built: a
``count()`` after them runs as a fused ``Count`` in the tasks, an aggregation after them
builds only the columns it reads. The answers and the errors are those of the full path."""

from __future__ import annotations

import numpy as np
import pytest

import streamdata as sd
from streamdata.aggregate import AggregateFn, Count, Max, Mean, Sum
from streamdata.errors import ColumnNotFoundError, StreamDataError

pytestmark = pytest.mark.usefixtures("data_runtime")


def _ds(n: int = 100, blocks: int = 4) -> sd.Dataset:
    return sd.range(n, override_num_blocks=blocks)


def test_count_after_flat_map_and_map() -> None:
    assert _ds().flat_map(lambda r: [r] * (r["id"] % 3)).count() == sum(i % 3 for i in range(100))
    assert _ds().map(lambda r: {"x": r["id"], "s": str(r["id"])}).count() == 100
    assert _ds().flat_map(lambda r: []).count() == 0  # no output rows at all
    assert _ds(0, 1).flat_map(lambda r: [r]).count() == 0
    assert _ds().filter(lambda r: False).flat_map(lambda r: [r, r]).count() == 0
    # rows of varying keys, tensors and objects still count one each
    rows = _ds().flat_map(lambda r: [{"a": 1}, {"b": np.zeros(2)}, {"c": {1j}}])
    assert rows.count() == 300
    # the same count as the rows that come out
    ds = _ds().flat_map(lambda r: [{"k": r["id"] % 5}] * 2)
    assert ds.count() == len(ds.take_all()) == 200


def test_count_after_a_row_udf_names_the_operator_on_bad_rows() -> None:
    with pytest.raises(StreamDataError, match=r"flat_map UDF FlatMap\(<lambda>\) returned int"):
        _ds().flat_map(lambda r: 5).count()
    with pytest.raises(StreamDataError, match=r"map UDF Map\(<lambda>\) returned list"):
        _ds().map(lambda r: [r]).count()
    with pytest.raises(StreamDataError, match="as a row; expected a dict"):
        _ds().flat_map(lambda r: ["x"]).count()


def test_an_aggregation_after_map_reads_the_columns_it_needs() -> None:
    ds = _ds().map(lambda r: {"id": r["id"], "c": r["id"] * 2 + 1, "s": "x" * (r["id"] % 3)})
    assert ds.aggregate(Count(), Sum("c"), Max("c"), Mean("id")) == {
        "count()": 100, "sum(c)": sum(i * 2 + 1 for i in range(100)), "max(c)": 199,
        "mean(id)": 49.5}
    assert sorted(ds.groupby("s").count().take_all(), key=lambda r: r["s"]) == [
        {"s": "", "count()": 34}, {"s": "x", "count()": 33}, {"s": "xx", "count()": 33}]
    # keys that come and go between rows: missing values are nulls, as without the pruning
    sparse = _ds().map(lambda r: {"c": r["id"]} if r["id"] % 2 else {"other": 1})
    assert sparse.aggregate(Count(), Sum("c"), Count("c", ignore_nulls=True)) == {
        "count()": 100, "sum(c)": sum(range(1, 100, 2)), "count(c)": 50}
    # a user's aggregation sees every column
    width = AggregateFn(init=lambda k: 0, accumulate_row=lambda a, row: a + len(row),
                        merge=lambda a, b: a + b, name="width")
    assert ds.aggregate(width)["width"] == 300


def test_an_aggregation_of_a_column_no_row_has_lists_the_columns_there_are() -> None:
    ds = _ds().map(lambda r: {"a": r["id"], "b": 0})
    with pytest.raises(StreamDataError, match=r"'nope'.*\['a', 'b'\]") as info:
        ds.aggregate(Sum("nope"))
    assert "ColumnNotFoundError" in str(info.value) or isinstance(info.value, ColumnNotFoundError)
