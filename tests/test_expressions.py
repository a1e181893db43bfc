"""Expressions: printing, columns, vectorized evaluation and the Arrow translation."""

from __future__ import annotations

import pickle

import cloudpickle
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.expressions import and_all, col, conjuncts, lit

TABLE = pa.table({
    "a": [-7, 7, 6, None, 0],
    "f": [1.5, -2.5, 0.0, 3.0, None],
    "s": ["x", "y", "z", None, "x"],
})


def python_rows() -> list[dict]:
    return TABLE.to_pylist()


def py_eval(fn, row):
    try:
        return fn(row)
    except TypeError:  # None in arithmetic: null in Arrow
        return None


@pytest.mark.parametrize("expr, fn", [
    (col("a") + 1, lambda r: r["a"] + 1),
    (1 - col("a"), lambda r: 1 - r["a"]),
    (col("a") * col("f"), lambda r: r["a"] * r["f"]),
    (col("a") / 2, lambda r: r["a"] / 2),
    (col("a") // 2, lambda r: r["a"] // 2),
    (col("a") % 3, lambda r: r["a"] % 3),
    (col("f") // 1, lambda r: r["f"] // 1),
    (col("f") % 2, lambda r: r["f"] % 2),
    (-col("a"), lambda r: -r["a"]),
    (col("a") > 0, lambda r: r["a"] > 0),
    (col("a") >= 0, lambda r: r["a"] >= 0),
    (col("a") < 6, lambda r: r["a"] < 6),
    (col("a") <= 6, lambda r: r["a"] <= 6),
    (col("s") == "x", lambda r: None if r["s"] is None else r["s"] == "x"),
    (col("s") != "x", lambda r: None if r["s"] is None else r["s"] != "x"),
    (col("s").is_in(["x", "z"]), lambda r: r["s"] in ("x", "z")),
    (col("a").is_null(), lambda r: r["a"] is None),
    (col("a").is_not_null(), lambda r: r["a"] is not None),
    ((col("a") + 1).alias("b"), lambda r: r["a"] + 1),
])
def test_evaluate_matches_python(expr, fn) -> None:
    got = expr.evaluate(TABLE).to_pylist()
    assert got == [py_eval(fn, r) for r in python_rows()]


def test_logical_ops_use_sql_null_semantics() -> None:
    pos = col("a") > 0
    assert (pos & col("s").is_null()).evaluate(TABLE).to_pylist() == [False, False, False, None, False]
    assert (pos | col("s").is_null()).evaluate(TABLE).to_pylist() == [False, True, True, True, False]
    assert (~pos).evaluate(TABLE).to_pylist() == [True, False, False, None, True]


def test_literal_broadcasts_and_constant_folding() -> None:
    assert lit(3).evaluate(TABLE).to_pylist() == [3] * 5
    assert (lit(2) * 3).evaluate(TABLE).to_pylist() == [6] * 5


def test_printing() -> None:
    # the one-line form of plans and messages (repr/str draw Ray's tree: tests/expressions/test_tree_repr.py)
    assert (col("a") > 0.5).compact() == "(col('a') > 0.5)"
    assert ((col("a") > 0.5) & ~col("b").is_null()).compact() == "((col('a') > 0.5) & (~col('b').is_null()))"
    assert col("s").is_in(["x"]).compact() == "col('s').is_in(['x'])"
    assert (col("a") + 1).alias("b").compact() == "(col('a') + 1).alias('b')"
    assert lit(5).compact() == "5" and (-col("a")).compact() == "(-col('a'))"
    assert repr(lit(5)) == str(lit(5)) == "LIT(5)"


def test_columns_and_structure() -> None:
    e = (col("a") + col("b")) * 2 > col("c").alias("z")
    assert e.columns() == frozenset({"a", "b", "c"})
    assert lit(1).columns() == frozenset()
    assert (col("a") + 1).structurally_equals(col("a") + 1)
    assert not (col("a") + 1).structurally_equals(col("a") + 2)
    assert hash(col("a") + 1) == hash(col("a") + 1)
    assert (col("a") + 1).alias("b").output_name == "b" and (col("a") + 1).output_name is None
    parts = conjuncts(and_all([col("a") > 1, col("b") < 2, col("c").is_null()]))
    assert [p.compact() for p in parts] == ["(col('a') > 1)", "(col('b') < 2)", "col('c').is_null()"]


def test_no_truth_value() -> None:
    with pytest.raises(TypeError, match="use & | ~"):
        bool(col("a") > 1)
    with pytest.raises(TypeError):
        (col("a") > 1) and (col("b") > 1)  # noqa: B015


def test_unknown_column_lists_available() -> None:
    with pytest.raises(ColumnNotFoundError) as info:
        (col("zz") + 1).evaluate(TABLE)
    assert info.value.column == "zz" and info.value.available == ["a", "f", "s"]
    assert "'zz' not in ['a', 'f', 's']" in str(info.value)


def test_type_mismatch_is_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"\(col\('s'\) \+ 1\)"):
        (col("s") + 1).evaluate(TABLE)


@pytest.mark.parametrize("expr", [
    col("a") > 0,
    (col("a") // 2) == -4,
    (col("a") % 3) == 2,
    (col("a") / 2) > 3,
    col("s").is_in(["x", "z"]),
    col("a").is_null() | (col("f") < 0),
    ~(col("a") > 0) & col("s").is_not_null(),
    (-col("f")) >= 0,
])
def test_to_arrow_filters_like_evaluate(expr) -> None:
    via_arrow = pads.dataset(TABLE).to_table(filter=expr.to_arrow())
    via_eval = TABLE.filter(expr.evaluate(TABLE))
    assert via_arrow.to_pylist() == via_eval.to_pylist()


def test_pickles() -> None:
    e = (col("a") * 2 > lit(1)) & col("s").is_in(["x"])
    for back in (pickle.loads(pickle.dumps(e)), pickle.loads(cloudpickle.dumps(e))):
        assert back.structurally_equals(e)
        assert back.evaluate(TABLE).to_pylist() == e.evaluate(TABLE).to_pylist()


# --------------------------------------------------------------------------- string expressions

def test_string_expressions_parse_into_the_same_trees() -> None:
    from streamdata.expression_parser import parse_expression

    t = pa.table({"a": [0.1, 0.6, 0.9, None], "b": [1, 2, 3, 4], "s": ["x", "y", "z", "x"]})
    cases = {
        "a > 0.5": col("a") > 0.5,
        "0.2 < a < 0.95": (lit(0.2) < col("a")) & (col("a") < 0.95),
        "not (b % 2 == 0)": ~(col("b") % 2 == 0),
        "a is None": col("a").is_null(),
        "a is not None and s not in ['x']": col("a").is_not_null() & col("s").not_in(["x"]),
        "is_null(a) or is_in(s, ['z'])": col("a").is_null() | col("s").is_in(["z"]),
        "is_valid(a) and not is_nan(a)": col("a").is_not_null() & ~(col("a") != col("a")),
        "is_not_null(a)": col("a").is_not_null(),
        "b * 2 + 1 >= 5 or s == 'x'": ((col("b") * 2 + 1) >= 5) | (col("s") == "x"),
        "-b < -2": -col("b") < -2,
    }
    for text, expected in cases.items():
        parsed = parse_expression(text)
        assert parsed.compact() == expected.compact(), text
        assert t.filter(parsed.evaluate(t)).equals(t.filter(expected.evaluate(t))), text


def test_string_expressions_reject_what_they_cannot_express() -> None:
    from streamdata.expression_parser import parse_expression

    for text, message in [("a >", "cannot parse"), ("f(a)", "unsupported function 'f'"),
                          ("is_null(a, b)", "takes 1 positional"), ("is_in(a, b)", "needs a list"),
                          ("a in b", "needs a list of literals"), ("a in [b]", "only literals"),
                          ("1 + 2", "constant")]:
        with pytest.raises(PlanError, match=message):
            parse_expression(text)
    assert parse_expression("user.age > 3").columns() == {"user.age"}  # Ray's dotted names
