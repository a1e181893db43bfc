"""Aggregations through ``Dataset.aggregate`` and ``groupby(...).aggregate`` on worker
processes (one runtime for the module), checked against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamdata as sd
from streamdata.aggregate import (
    AbsMax, AggregateFnV2, ApproximateQuantile, ApproximateTopK, AsList, Count, CountDistinct, Max, Mean,
    MissingValuePercentage, Std, Sum, Unique, ValueCounter, ZeroPercentage,
)
from streamdata.errors import ColumnNotFoundError


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module (tests/conftest.py)


def items(n: int = 300) -> list[dict]:
    rng = np.random.default_rng(5)
    return [{"g": int(rng.integers(0, 3)), "v": None if rng.random() < 0.1 else float(rng.normal(0, 4)),
             "z": int(rng.integers(0, 3)), "c": str(rng.choice(["A", "B", "C"]))} for _ in range(n)]


def test_global_aggregate_with_rays_names() -> None:
    rows = items()
    df = pd.DataFrame(rows)
    ds = sd.from_items(rows, override_num_blocks=4)
    out = ds.aggregate(Count(), Sum("z"), AbsMax("v"), CountDistinct("c"), MissingValuePercentage("v"),
                       ZeroPercentage("z"), ApproximateQuantile("z", [0.5]), ApproximateTopK("c", k=1))
    assert out["count()"] == len(df) and out["sum(z)"] == df["z"].sum()
    assert out["abs_max(v)"] == pytest.approx(df["v"].abs().max())
    assert out["count_distinct(c)"] == 3
    assert out["missing_pct(v)"] == pytest.approx(100 * df["v"].isna().mean())
    assert out["zero_pct(z)"] == pytest.approx(100 * (df["z"] == 0).mean())
    assert out["approx_quantile(z)"] == [float(np.sort(df["z"])[int(np.ceil(0.5 * len(df))) - 1])]
    top = df["c"].value_counts()
    assert out["approx_topk(c)"] == [{"c": top.index[0], "count": int(top.iloc[0])}]


def test_groupby_aggregate_end_to_end() -> None:
    rows = items()
    df = pd.DataFrame(rows)
    ds = sd.from_items(rows, override_num_blocks=5)
    got = ds.groupby("g").aggregate(AsList("z"), Unique("c"), ValueCounter("c"), Mean("v"), Std("v"),
                                    Max("v", alias_name="top")).take_all()
    assert [r["g"] for r in got] == [0, 1, 2]
    for r in got:
        g = df[df["g"] == r["g"]]
        assert sorted(r["list(z)"]) == sorted(g["z"])
        assert r["unique(c)"] == sorted(g["c"].unique())
        assert dict(zip(r["value_counter(c)"]["values"], r["value_counter(c)"]["counts"])) == \
            g["c"].value_counts().to_dict()
        assert r["mean(v)"] == pytest.approx(g["v"].mean()) and r["std(v)"] == pytest.approx(g["v"].std())
        assert r["top"] == pytest.approx(g["v"].max())


def test_user_aggregate_fn_v2_end_to_end() -> None:
    class SumOfSquares(AggregateFnV2):
        def __init__(self, on: str) -> None:
            super().__init__(f"ss({on})", lambda: 0, on=on, ignore_nulls=True)

        def aggregate_block(self, block):
            return int(sum(x * x for x in block.column(self.on).to_pylist() if x is not None))

        def combine(self, a, b):
            return a + b

    ds = sd.range(10, override_num_blocks=3)
    assert ds.aggregate(SumOfSquares("id")) == {"ss(id)": sum(i * i for i in range(10))}


def test_empty_dataset_and_bad_column() -> None:
    empty = sd.from_items([{"v": 1.0}]).filter(expr=sd.col("v") > 5)
    assert empty.aggregate(Count(), AsList("v"), MissingValuePercentage("v")) == \
        {"count()": 0, "list(v)": [], "missing_pct(v)": None}
    with pytest.raises(ColumnNotFoundError, match="nope"):
        sd.range(3).aggregate(CountDistinct("nope"))
