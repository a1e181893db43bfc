"""Expression functions on Arrow tables: math, cast, not_in, the namespaces, Arrow
conversion (pushdown) and bad input. No processes: evaluation is pure Arrow compute."""

from __future__ import annotations

import datetime as dt
import math
import pickle

import cloudpickle
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pytest

import streamdata.expressions as E
from streamdata.errors import ColumnNotFoundError, SchemaError
from streamdata.expressions import Operation, col, lit

T = pa.table({
    "x": [-2.5, 0.0, 1.5, None, 4.0],
    "i": [-3, 0, 2, None, 9],
    "s": ["Alice", "bob", " pad ", None, "a-b-c"],
})


def values(expr: E.Expr, table: pa.Table = T) -> list:
    return expr.evaluate(table).to_pylist()


def test_ray_all_names_exist() -> None:
    ray_exprs = pytest.importorskip("ray.data.expressions")
    missing = [n for n in ray_exprs.__all__ if not hasattr(E, n)]
    assert missing == []
    method_names = [m for m in dir(ray_exprs.Expr) if not m.startswith("_")]
    assert [m for m in method_names if not hasattr(E.Expr, m)] == []
    for ns in ("_StringNamespace", "_ListNamespace", "_StructNamespace", "_MapNamespace",
               "_DatetimeNamespace", "_ArrayNamespace"):
        theirs = {m for m in dir(getattr(ray_exprs, ns)) if not m.startswith("_")}
        ours = {m for m in dir(getattr(E, ns)) if not m.startswith("_")}
        assert theirs - ours == set(), ns


@pytest.mark.parametrize("method,fn", [
    ("abs", abs), ("ceil", math.ceil), ("floor", math.floor), ("trunc", math.trunc),
    ("exp", math.exp), ("sqrt", lambda v: math.sqrt(v) if v >= 0 else math.nan),
    ("sin", math.sin), ("cos", math.cos), ("tan", math.tan), ("atan", math.atan),
    ("sign", lambda v: float(np.sign(v))), ("negate", lambda v: -v),
])
def test_unary_math_matches_python(method: str, fn) -> None:
    got = values(getattr(col("x"), method)())
    expected = [None if v is None else fn(v) for v in T.column("x").to_pylist()]
    for g, e in zip(got, expected):
        assert (g is None and e is None) or (math.isnan(e) and math.isnan(g)) or g == pytest.approx(e)


def test_logs_round_power() -> None:
    t = pa.table({"v": [1, 8, 100]})
    assert values(col("v").ln(), t) == pytest.approx([0.0, math.log(8), math.log(100)])
    assert values(col("v").log2(), t) == pytest.approx([0.0, 3.0, math.log2(100)])
    assert values(col("v").log10(), t) == pytest.approx([0.0, math.log10(8), 2.0])
    assert values(col("v").power(2), t) == [1, 64, 10000]
    assert values(col("v").power(col("v") - col("v") + 0.5), t) == pytest.approx([1.0, 8 ** 0.5, 10.0])
    assert values(col("x").round()) == [-2.0, 0.0, 2.0, None, 4.0]  # ties to even
    assert values(col("v").asin(), pa.table({"v": [0.5, -1.0]})) == pytest.approx([math.asin(0.5), -math.pi / 2])
    assert values(col("v").acos(), pa.table({"v": [1.0]})) == [0.0]


def test_integer_abs_overflow_is_a_schema_error() -> None:
    t = pa.table({"v": pa.array([-(2 ** 63)], pa.int64())})
    with pytest.raises(SchemaError, match="overflow"):
        col("v").abs().evaluate(t)


def test_cast_safe_and_unsafe() -> None:
    assert values(col("i").cast(pa.string())) == ["-3", "0", "2", None, "9"]
    assert values(col("x").cast(pa.int64(), safe=False)) == [-2, 0, 1, None, 4]
    with pytest.raises(SchemaError, match="cast"):
        col("x").cast(pa.int64()).evaluate(T)  # -2.5 would lose its fraction

    class RayStyleType:  # anything with to_arrow_dtype(), as Ray's DataType
        def to_arrow_dtype(self) -> pa.DataType:
            return pa.float32()

    assert col("i").cast(RayStyleType()).evaluate(T).type == pa.float32()
    with pytest.raises(TypeError, match="cast takes a pyarrow.DataType"):
        col("i").cast("int64")


def test_not_in_and_is_in_take_lists_and_lit() -> None:
    assert values(col("i").not_in([0, 9])) == [True, False, True, True, False]  # null: not in (Ray's)
    assert values(col("i").is_in(lit([0, 9]))) == [False, True, False, False, True]
    assert col("i").not_in([1]).compact() == "col('i').not_in([1])"
    with pytest.raises(TypeError, match="not_in takes a list"):
        col("i").not_in("ab")


def test_string_namespace() -> None:
    s = col("s").str
    assert values(s.len()) == [5, 3, 5, None, 5]
    assert values(s.upper()) == ["ALICE", "BOB", " PAD ", None, "A-B-C"]
    assert values(s.lower()) == ["alice", "bob", " pad ", None, "a-b-c"]
    assert values(s.capitalize())[1] == "Bob"
    assert values(s.starts_with("a")) == [False, False, False, None, True]
    assert values(s.starts_with("a", ignore_case=True)) == [True, False, False, None, True]
    assert values(s.ends_with("b")) == [False, True, False, None, False]
    assert values(s.contains("-b-")) == [False, False, False, None, True]
    assert values(s.match("A%")) == [True, False, False, None, False]
    assert values(s.match_regex("^[a-z]+$")) == [False, True, False, None, False]
    assert values(s.find("b")) == [-1, 0, -1, None, 2]
    assert values(s.count("-")) == [0, 0, 0, None, 2]
    assert values(s.replace("-", "+"))[4] == "a+b+c"
    assert values(s.replace_regex("[aeiou]", "_"))[0] == "Al_c_"
    assert values(s.split("-"))[4] == ["a", "b", "c"]
    assert values(s.strip())[2] == "pad"
    assert values(s.lstrip())[2] == "pad "
    assert values(s.rstrip(" d"))[2] == " pa"
    assert values(s.slice(0, 2))[0] == "Al"
    assert values(s.reverse())[1] == "bob"
    assert values(s.repeat(2))[1] == "bobbob"
    assert values(s.pad(6, "*", side="both"))[1] in ("*bob**", "**bob*")
    assert values(s.lpad(5, "."))[1] == "..bob"
    assert values(s.is_alpha()) == [True, True, False, None, False]
    assert values(s.extract(r"(?P<first>\w)-(?P<rest>.*)"))[4] == {"first": "a", "rest": "b-c"}
    with pytest.raises(TypeError, match="str.starts_with"):
        s.starts_with("a", no_such_option=True)
    with pytest.raises(ValueError, match="side must be"):
        s.pad(3, side="middle")


def test_datetime_namespace() -> None:
    t = pa.table({"t": pa.array([dt.datetime(2024, 3, 5, 14, 7, 9), None], pa.timestamp("s"))})
    d = col("t").dt
    assert [values(getattr(d, p)(), t)[0] for p in ("year", "month", "day", "hour", "minute", "second")] == \
        [2024, 3, 5, 14, 7, 9]
    assert values(d.strftime("%Y/%m/%d"), t) == ["2024/03/05", None]
    assert values(d.floor("day"), t)[0] == dt.datetime(2024, 3, 5)
    assert values(d.ceil("hour"), t)[0] == dt.datetime(2024, 3, 5, 15)
    assert values(d.round("minute"), t)[0] == dt.datetime(2024, 3, 5, 14, 7)


def test_list_namespace() -> None:
    t = pa.table({"l": [[3, None, 1], [], None, [7, 5]]})
    lst = col("l").list
    assert values(lst.len(), t) == [3, 0, None, 2]
    assert values(lst[0], t) == [3, None, None, 7]
    assert values(lst[-1], t) == [1, None, None, 5]
    assert values(lst.get(5), t) == [None, None, None, None]
    assert values(lst[1:3], t) == [[None, 1], [], None, [5]]
    assert values(lst.sort(), t) == [[1, 3, None], [], None, [5, 7]]
    assert values(lst.sort("descending", "at_start"), t) == [[None, 3, 1], [], None, [7, 5]]
    nested = pa.table({"n": [[[1, 2], [3]], [None, [4]], None, []]})
    assert values(col("n").list.flatten(), nested) == [[1, 2, 3], [4], None, []]
    fixed = pa.table({"f": pa.array([[1, 2], [3, 4]], pa.list_(pa.int64(), 2))})
    assert col("f").arr.to_list().evaluate(fixed).type == pa.list_(pa.int64())
    with pytest.raises(TypeError, match="list indices"):
        lst["a"]
    with pytest.raises(ValueError, match="order must be"):
        lst.sort("up")


def test_struct_and_map_namespaces() -> None:
    st = pa.array([{"name": "A", "age": 3}, None], pa.struct([("name", pa.string()), ("age", pa.int32())]))
    t = pa.table({"u": st, "m": pa.array([[("a", 1), ("b", 2)], None], pa.map_(pa.string(), pa.int64()))})
    assert values(col("u").struct["age"], t) == [3, None]
    assert values(col("u").struct[0], t) == ["A", None]
    assert values(col("u").struct.field("name"), t) == ["A", None]
    assert values(col("u").struct.field_by_index(1), t) == [3, None]
    assert values(col("m").map.keys(), t) == [["a", "b"], None]
    assert values(col("m").map.values(), t) == [[1, 2], None]
    with pytest.raises(SchemaError):
        col("u").struct["nope"].evaluate(t)


def test_kernel_expressions_push_down_as_arrow() -> None:
    exprs = [col("s").str.starts_with("a"), col("x").abs() > 1, col("i").cast(pa.float64()) / 2 > 0,
             col("i").not_in([0, 9]), col("s").str.len() == 5, (col("x").ceil() == 2) | col("s").is_null()]
    for e in exprs:
        assert e.is_pyarrow_convertible()
        mask = e.evaluate(T)
        if pa.types.is_boolean(mask.type):
            via_arrow = pads.dataset(T).to_table(filter=e.to_arrow())
            assert via_arrow.equals(T.filter(mask)), str(e)


def test_udf_and_generators_are_not_pushed_or_moved() -> None:
    assert not E.random().is_idempotent() and not (col("x") > E.random()).is_idempotent()
    assert (col("x") > 1).is_idempotent()
    assert not E.download("s").is_pyarrow_convertible()
    with pytest.raises(TypeError, match="cannot run as a pyarrow compute expression"):
        E.uuid().to_arrow()


def test_pickle_print_equality_and_rename() -> None:
    e = col("s").str.upper().str.starts_with("A") & (col("x").power(2) > lit(1))
    again = pickle.loads(pickle.dumps(e))
    assert again.structurally_equals(e) and again.compact() == e.compact() and str(again) == str(e)
    assert values(again) == values(e)
    assert cloudpickle.loads(cloudpickle.dumps(col("l").list.sort())).structurally_equals(col("l").list.sort())
    assert "str.upper()" in e.compact() and "power" in e.compact()
    renamed = E.rename_columns(e, {"s": "t"})
    assert renamed.columns() == {"t", "x"}
    assert E.rename_columns(E.download("u"), {"u": "v"}).columns() == {"v"}


def test_operation_enum_and_ray_style_construction() -> None:
    e = E.BinaryExpr(Operation.ADD, col("i"), E.LiteralExpr(1))
    assert values(e) == [-2, 1, 3, None, 10]
    assert E.UnaryExpr(Operation.IS_NULL, col("i")).structurally_equals(col("i").is_null())
    assert (col("a") / 2).op == Operation.DIV
    in_op = E.BinaryExpr(Operation.NOT_IN, col("i"), E.LiteralExpr([0, 9]))
    assert values(in_op) == values(col("i").not_in([0, 9])) and in_op.compact() == "col('i').not_in([0, 9])"
    assert pads.dataset(T).to_table(filter=E.BinaryExpr(Operation.IN, col("i"), lit([0, 9])).to_arrow()) \
        .column("i").to_pylist() == [0, 9]
    assert col("a").name == "a" and (col("a") + 1).alias("b").name == "b" and (col("a") + 1).name is None


def test_unknown_column_lists_columns_and_wrong_types_name_the_expression() -> None:
    with pytest.raises(ColumnNotFoundError) as info:
        col("nope").str.len().evaluate(T)
    assert "'nope'" in str(info.value) and "'s'" in str(info.value)
    with pytest.raises(SchemaError, match="str.upper"):
        col("i").str.upper().evaluate(T)
    with pytest.raises(SchemaError, match="ln"):
        col("s").ln().evaluate(T)


def test_get_type_and_to_field() -> None:
    schema = T.schema
    assert col("i").ln().get_type(schema) == pa.float64()
    assert col("s").str.len().to_field(schema) is None  # no name
    assert col("s").str.len().alias("n").to_field(schema) == pa.field("n", pa.int32())
    assert E.uuid().get_type(schema) == pa.string()
    assert col("zz").get_type(schema) is None


def test_empty_table() -> None:
    empty = T.schema.empty_table()
    assert values(col("s").str.upper(), empty) == []
    assert values(col("x").sqrt() + 1, empty) == []
    assert pc.sum(E.monotonically_increasing_id().evaluate(empty)).as_py() is None
