"""``repr(expr)`` / ``str(expr)`` draw Ray 2.60's box tree; ``expr.compact()`` keeps one line.

The expected strings are what Ray 2.60 printed for the same expressions (``print(expr)`` with
``ray.data.expressions``), copied here as literals: this test does not import ray.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamdata.expressions import (
    col, download, lit, monotonically_increasing_id, random, star, udf, unnest, uuid,
)


@udf(return_dtype=pa.int64())
def add_one(x):
    return pc.add(x, 1)


@udf(return_dtype=pa.int64())
def two(x, y=None):
    return x


@udf(return_dtype=pa.int64())
class AddN:
    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        return x


RAY_TREES = [
    (lambda: col("a"), "COL('a')"),
    (lambda: lit("hello"), "LIT('hello')"),
    (lambda: lit("x" * 80), "LIT('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...)"),
    (lambda: lit((1, 2)), "LIT((1, 2))"),
    (lambda: (col("x") + lit(5)) * col("y"),
     "MUL\n"
     "    ├── left: ADD\n"
     "    │   ├── left: COL('x')\n"
     "    │   └── right: LIT(5)\n"
     "    └── right: COL('y')"),
    (lambda: 1 + col("a"), "ADD\n    ├── left: LIT(1)\n    └── right: COL('a')"),
    (lambda: (col("a") > 1) & (col("b") <= 2) | (col("c") == "x"),
     "OR\n"
     "    ├── left: AND\n"
     "    │   ├── left: GT\n"
     "    │   │   ├── left: COL('a')\n"
     "    │   │   └── right: LIT(1)\n"
     "    │   └── right: LE\n"
     "    │       ├── left: COL('b')\n"
     "    │       └── right: LIT(2)\n"
     "    └── right: EQ\n"
     "        ├── left: COL('c')\n"
     "        └── right: LIT('x')"),
    (lambda: (((col("a") + 1) * 2 > 3) & ~col("a").is_null()) | col("a").is_in([1]),
     "OR\n"
     "    ├── left: AND\n"
     "    │   ├── left: GT\n"
     "    │   │   ├── left: MUL\n"
     "    │   │   │   ├── left: ADD\n"
     "    │   │   │   │   ├── left: COL('a')\n"
     "    │   │   │   │   └── right: LIT(1)\n"
     "    │   │   │   └── right: LIT(2)\n"
     "    │   │   └── right: LIT(3)\n"
     "    │   └── right: NOT\n"
     "    │       └── operand: IS_NULL\n"
     "    │           └── operand: COL('a')\n"
     "    └── right: IN\n"
     "        ├── left: COL('a')\n"
     "        └── right: LIT([1])"),
    (lambda: col("a").is_not_null(), "IS_NOT_NULL\n    └── operand: COL('a')"),
    (lambda: col("a").not_in(["x", "y"]),
     "NOT_IN\n    ├── left: COL('a')\n    └── right: LIT(['x', 'y'])"),
    (lambda: (col("a") + 1).alias("b"),
     "ALIAS('b')\n    └── ADD\n        ├── left: COL('a')\n        └── right: LIT(1)"),
    (lambda: random(), "RANDOM()"),
    (lambda: random(seed=42), "RANDOM(seed=42, reseed_after_execution=True)"),
    (lambda: random(seed=7, reseed_after_execution=False), "RANDOM(seed=7, reseed_after_execution=False)"),
    (lambda: uuid(), "UUID()"),
    (lambda: monotonically_increasing_id(), "MONOTONICALLY_INCREASING_ID()"),
    (lambda: star(), "COL(*)"),
    (lambda: download("uri").alias("bytes"), "ALIAS('bytes')\n    └── DOWNLOAD('uri')"),
    (lambda: unnest(col("s")), "UNNEST\n    └── COL('s')"),
    (lambda: col("s").str.contains("ab"), "UDF(udf)\n    └── arg[0]: COL('s')"),
    (lambda: col("s").struct["x"], "UDF(udf)\n    └── arg[0]: COL('s')"),
    (lambda: col("l").list.flatten(), "UDF(_list_flatten)\n    └── arg[0]: COL('l')"),
    (lambda: col("l").list.sort(), "UDF(_list_sort)\n    └── arg[0]: COL('l')"),
    (lambda: col("a").cast(pa.int32()), "UDF(cast_udf)\n    └── arg[0]: COL('a')"),
    (lambda: add_one(col("a") + 1),
     "UDF(add_one)\n    └── arg[0]: ADD\n        ├── left: COL('a')\n        └── right: LIT(1)"),
    (lambda: two(col("a"), y=col("b")),
     "UDF(two)\n    ├── arg[0]: COL('a')\n    └── kwarg['y']: COL('b')"),
    (lambda: two(col("a"), 5), "UDF(two)\n    ├── arg[0]: COL('a')\n    └── arg[1]: LIT(5)"),
    (lambda: AddN(3)(col("a")), "UDF(AddN)\n    └── arg[0]: COL('a')"),
]


@pytest.mark.parametrize("build,expected", RAY_TREES, ids=[e.split("\n")[0] for _, e in RAY_TREES])
def test_repr_and_str_are_rays_tree(build, expected) -> None:
    expr = build()
    assert repr(expr) == expected
    assert str(expr) == expected
    assert f"{expr}" == expected


def test_compact_keeps_the_one_line_form() -> None:
    expr = ((col("x") + 5) * col("y") > 3) & col("s").str.upper().is_in(["A"])
    assert expr.compact() == "((((col('x') + 5) * col('y')) > 3) & col('s').str.upper().is_in(['A']))"
    assert (col("a") + 1).alias("b").compact() == "(col('a') + 1).alias('b')"
    assert random(seed=1).compact() == "random(seed=1, reseed_after_execution=True)"
    assert unnest(col("s")).compact() == "unnest(col('s'))"
    assert add_one(col("a")).compact() == "add_one(col('a'))"


def test_plans_and_messages_use_the_one_line_form(capsys) -> None:
    import streamdata as sd

    ds = sd.range(5).filter(expr=col("id") > 2).with_column("y", col("id") * 2)
    ds.explain()
    text = capsys.readouterr().out
    assert "Filter((col('id') > 2))" in text and "WithColumn(y=(col('id') * 2))" in text
    assert "├──" not in text and "GT" not in text
    with pytest.raises(TypeError, match=r"ambiguous: \(col\('a'\) > 1\)"):
        bool(col("a") > 1)
