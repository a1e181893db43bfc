"""All-to-all operations through the whole engine (Dataset → plan → executor → workers),
compared with pandas on random data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest


from streamdata import read_api as rd
from streamdata.aggregate import (
    AggregateFn,
    Count,
    Max,
    Mean,
    Min,
    Quantile,
    Std,
    Sum,
    Unique,
)
from streamdata.errors import ColumnNotFoundError, SchemaError

RUNTIME_INIT = {"num_cpus": 2, "object_store_memory": 512 << 20}


@pytest.fixture(scope="module", autouse=True)
def _runtime(runtime):
    yield runtime


def frame(n: int, seed: int = 0, *, num_keys: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    key = np.where(rng.random(n) < 0.4, 3, rng.integers(0, num_keys, n))  # skewed: 40% key 3
    return pd.DataFrame({
        "key": key,
        "name": np.array(["ant", "bee", "cat", "dog", "eel"])[rng.integers(0, 5, n)],
        "v": rng.normal(10, 2, n),
        "i": rng.integers(-100, 100, n),
        "row": np.arange(n),
    })


def ds_of(df: pd.DataFrame, blocks: int = 5):
    edges = np.linspace(0, len(df), blocks + 1).astype(int)
    return rd.from_pandas([df.iloc[a:b] for a, b in zip(edges[:-1], edges[1:])])


def by_key(rows: list[dict], key: str = "key") -> dict:
    return {r[key]: r for r in rows}


@pytest.mark.parametrize("blocks", [1, 6])
def test_groupby_aggregations_match_pandas(blocks: int) -> None:
    df = frame(3000, seed=blocks)
    out = ds_of(df, blocks).groupby("key").aggregate(
        Count(), Sum("i"), Min("v"), Max("name"), Mean("v"), Std("v"), Quantile("v", q=0.9),
        Unique("name")).take_all()
    g = df.groupby("key")
    assert [r["key"] for r in out] == sorted(g.groups)
    for r in out:
        k = r["key"]
        assert r["count()"] == g.size()[k]
        assert r["sum(i)"] == g["i"].sum()[k]
        assert r["min(v)"] == pytest.approx(g["v"].min()[k])
        assert r["max(name)"] == g["name"].max()[k]
        assert r["mean(v)"] == pytest.approx(g["v"].mean()[k])
        assert r["std(v)"] == pytest.approx(g["v"].std()[k])
        assert r["quantile(v)"] == pytest.approx(g["v"].quantile(0.9)[k])
        assert r["unique(name)"] == sorted(set(g["name"].get_group(k)))


def test_grouped_shorthands_and_multi_keys() -> None:
    df = frame(1000, seed=2)
    counts = ds_of(df).groupby(["key", "name"]).count().to_pandas()
    expected = df.groupby(["key", "name"]).size().reset_index(name="count()")
    pd.testing.assert_frame_equal(counts.reset_index(drop=True), expected, check_dtype=False)
    means = ds_of(df).groupby("name").mean(["v", "i"]).to_pandas()
    exp = df.groupby("name")[["v", "i"]].mean().reset_index()
    np.testing.assert_allclose(means["mean(v)"], exp["v"])
    np.testing.assert_allclose(means["mean(i)"], exp["i"])


def test_one_key_all_null_keys_and_empty_inputs() -> None:
    one = frame(500).assign(key=7)
    assert ds_of(one).groupby("key").count().take_all() == [{"key": 7, "count()": 500}]
    nulls = pa.table({"key": pa.nulls(300, pa.int64()), "v": np.arange(300.0)})
    out = rd.from_arrow([nulls.slice(0, 150), nulls.slice(150)]).groupby("key").sum("v").take_all()
    assert out == [{"key": None, "sum(v)": float(np.arange(300.0).sum())}]
    empty = ds_of(frame(100), 2).filter(lambda r: False)
    assert empty.groupby("key").count().take_all() == []
    assert empty.aggregate(Count(), Sum("v")) == {"count()": 0, "sum(v)": None}
    assert empty.sort("key").take_all() == []
    assert empty.sum("v") is None


def test_many_columns_global_aggregate() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"c{j}": rng.normal(size=400) for j in range(30)})
    result = ds_of(df, 4).aggregate(*[Mean(f"c{j}") for j in range(30)], *[Max(f"c{j}") for j in range(30)])
    for j in range(30):
        assert result[f"mean(c{j})"] == pytest.approx(df[f"c{j}"].mean())
        assert result[f"max(c{j})"] == pytest.approx(df[f"c{j}"].max())
    assert ds_of(df, 4).std("c3") == pytest.approx(df["c3"].std())


def test_user_defined_aggregation() -> None:
    df = frame(600, seed=4)
    span = AggregateFn(init=lambda k: (float("inf"), float("-inf")), name="span",
                       accumulate_block=lambda a, b: (min(a[0], pa.compute.min(b["v"]).as_py()),
                                                      max(a[1], pa.compute.max(b["v"]).as_py())),
                       merge=lambda a, b: (min(a[0], b[0]), max(a[1], b[1])),
                       finalize=lambda a: a[1] - a[0])
    out = by_key(ds_of(df).groupby("key").aggregate(span).take_all())
    g = df.groupby("key")["v"]
    for k, r in out.items():
        assert r["span"] == pytest.approx(g.max()[k] - g.min()[k])


@pytest.mark.parametrize("keys,desc", [("v", False), (["name", "i"], [True, False]), ("key", True)])
def test_sort_matches_pandas(keys, desc) -> None:
    df = frame(4000, seed=5)
    df.loc[df.sample(frac=0.05, random_state=1).index, "v"] = np.nan  # nulls sort last
    rows = ds_of(df, 7).sort(keys, descending=desc).take_all()
    cols = [keys] if isinstance(keys, str) else keys
    flags = [desc] * len(cols) if isinstance(desc, bool) else desc
    expected = df.sort_values(cols, ascending=[not d for d in flags], kind="stable", na_position="last")
    got = pd.DataFrame(rows)
    for c in cols:  # ties may come in any order across blocks; the key order must match
        assert got[c].astype(object).where(got[c].notna(), None).tolist() == \
            expected[c].astype(object).where(expected[c].notna(), None).tolist()
    assert sorted(got["row"]) == list(range(4000))


def test_random_shuffle_is_seeded_and_complete() -> None:
    ds = rd.range(2000, override_num_blocks=8)
    a = [r["id"] for r in ds.random_shuffle(seed=11).take_all()]
    b = [r["id"] for r in ds.random_shuffle(seed=11).take_all()]
    c = [r["id"] for r in ds.random_shuffle().take_all()]
    assert a == b and sorted(a) == list(range(2000)) and a != list(range(2000))
    assert sorted(c) == list(range(2000)) and c != a


def test_repartition_and_randomize_block_order() -> None:
    ds = rd.range(1000, override_num_blocks=3)
    assert ds.repartition(7).num_blocks() == 7
    assert [r["id"] for r in ds.repartition(7).take_all()] == list(range(1000))
    shuffled = ds.repartition(4, shuffle=True)
    assert shuffled.num_blocks() == 4 and sorted(r["id"] for r in shuffled.take_all()) == list(range(1000))
    order = [r["id"] for r in ds.repartition(10).randomize_block_order(seed=2).take_all()]
    assert sorted(order) == list(range(1000)) and order != list(range(1000))


def test_unique() -> None:
    df = frame(800, seed=6)
    assert sorted(ds_of(df).unique("name")) == sorted(df["name"].unique())
    assert sorted(ds_of(df).unique("key")) == sorted(df["key"].unique())


@pytest.mark.parametrize("how,pd_how", [("inner", "inner"), ("left_outer", "left"),
                                        ("right_outer", "right"), ("full_outer", "outer")])
def test_join_matches_pandas(how: str, pd_how: str) -> None:
    rng = np.random.default_rng(7)
    left = pd.DataFrame({"id": rng.integers(0, 200, 1200), "a": rng.normal(size=1200)})
    right = pd.DataFrame({"id": rng.integers(100, 300, 600), "b": rng.integers(0, 5, 600)})
    out = ds_of(left, 4).join(ds_of(right, 3), join_type=how, num_partitions=3, on=("id",)).to_pandas()
    exp = left.merge(right, on="id", how=pd_how)
    cols = ["id", "a", "b"]
    pd.testing.assert_frame_equal(out[cols].astype(float).sort_values(cols, ignore_index=True),
                                  exp[cols].astype(float).sort_values(cols, ignore_index=True))


def test_random_sample_is_seeded() -> None:
    ds = rd.range(10_000, override_num_blocks=4)
    a = [r["id"] for r in ds.random_sample(0.2, seed=3).take_all()]
    b = [r["id"] for r in ds.random_sample(0.2, seed=3).take_all()]
    assert a == b and 1500 < len(a) < 2500 and len(set(a)) == len(a)


def test_map_groups_matches_pandas() -> None:
    df = frame(1500, seed=8)

    def demean(group: pd.DataFrame) -> pd.DataFrame:
        return group.assign(v=group["v"] - group["v"].mean())

    out = ds_of(df).groupby("key").map_groups(demean, batch_format="pandas").to_pandas()
    assert sorted(out["row"]) == list(range(1500))
    np.testing.assert_allclose(out.groupby("key")["v"].mean().to_numpy(), 0.0, atol=1e-9)
    assert out["key"].tolist() == sorted(out["key"].tolist())  # groups come in key order


def test_errors() -> None:
    ds = ds_of(frame(100))
    with pytest.raises(ColumnNotFoundError):
        ds.sort("nope").take_all()
    with pytest.raises(ColumnNotFoundError):
        ds.groupby("nope").count().take_all()
    with pytest.raises(ColumnNotFoundError):
        ds.groupby("key").sum("nope").take_all()
    lists = rd.from_items([{"l": [1, 2]}, {"l": [3]}])
    with pytest.raises(SchemaError):
        lists.sort("l").take_all()
