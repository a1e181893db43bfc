"""Column expressions: ``col``, ``lit`` and the operators that combine them.

Expressions are immutable trees. They are evaluated vectorized on a
``pyarrow.Table`` (:meth:`Expr.evaluate`, used by ``filter(expr=...)`` and
``with_column``) and translate to ``pyarrow.compute.Expression``
(:meth:`Expr.to_arrow`) so sources such as Parquet can prune columns and row
groups. Semantics follow Python where Arrow allows: ``/`` is true division
(integers give floats), ``//`` and ``%`` floor; ``&``, ``|`` and ``~`` are
logical with SQL null semantics (a filter drops rows where the predicate is null).

Because ``==`` builds an expression, an expression has no truth value: use
``&``, ``|``, ``~`` instead of ``and``, ``or``, ``not``.

Example:
    >>> import pyarrow as pa
    >>> e = (col("a") > 1) & col("b").is_in(["x", "y"])
    >>> print(e)
    ((col('a') > 1) & col('b').is_in(['x', 'y']))
    >>> sorted(e.columns())
    ['a', 'b']
    >>> t = pa.table({"a": [1, 2, 3], "b": ["x", "z", "y"]})
    >>> e.evaluate(t).to_pylist()
    [False, False, True]
    >>> (col("a") * 2 + lit(1)).evaluate(t).to_pylist()
    [3, 5, 7]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import ColumnNotFoundError, SchemaError

ArrowValue = pa.Array | pa.ChunkedArray | pa.Scalar

_BINARY_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "&", "or": "|",
}
_COMPARE_FUNCS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                  "gt": "greater", "ge": "greater_equal"}
_ARITH_FUNCS = {"add": "add_checked", "sub": "subtract_checked", "mul": "multiply_checked"}


def _coerce(value: Any) -> "Expr":
    return value if isinstance(value, Expr) else LiteralExpr(value=value)


class Expr:
    """Base of all expressions (build them with :func:`col` and :func:`lit`)."""

    __slots__ = ()

    # ---- building
    def _bin(self, op: str, other: Any, *, reflected: bool = False) -> "Expr":
        other = _coerce(other)
        left, right = (other, self) if reflected else (self, other)
        return BinaryExpr(op=op, left=left, right=right)

    def __add__(self, o: Any) -> "Expr": return self._bin("add", o)
    def __radd__(self, o: Any) -> "Expr": return self._bin("add", o, reflected=True)
    def __sub__(self, o: Any) -> "Expr": return self._bin("sub", o)
    def __rsub__(self, o: Any) -> "Expr": return self._bin("sub", o, reflected=True)
    def __mul__(self, o: Any) -> "Expr": return self._bin("mul", o)
    def __rmul__(self, o: Any) -> "Expr": return self._bin("mul", o, reflected=True)
    def __truediv__(self, o: Any) -> "Expr": return self._bin("truediv", o)
    def __rtruediv__(self, o: Any) -> "Expr": return self._bin("truediv", o, reflected=True)
    def __floordiv__(self, o: Any) -> "Expr": return self._bin("floordiv", o)
    def __rfloordiv__(self, o: Any) -> "Expr": return self._bin("floordiv", o, reflected=True)
    def __mod__(self, o: Any) -> "Expr": return self._bin("mod", o)
    def __rmod__(self, o: Any) -> "Expr": return self._bin("mod", o, reflected=True)
    def __eq__(self, o: Any) -> "Expr": return self._bin("eq", o)  # type: ignore[override]
    def __ne__(self, o: Any) -> "Expr": return self._bin("ne", o)  # type: ignore[override]
    def __lt__(self, o: Any) -> "Expr": return self._bin("lt", o)
    def __le__(self, o: Any) -> "Expr": return self._bin("le", o)
    def __gt__(self, o: Any) -> "Expr": return self._bin("gt", o)
    def __ge__(self, o: Any) -> "Expr": return self._bin("ge", o)
    def __and__(self, o: Any) -> "Expr": return self._bin("and", o)
    def __rand__(self, o: Any) -> "Expr": return self._bin("and", o, reflected=True)
    def __or__(self, o: Any) -> "Expr": return self._bin("or", o)
    def __ror__(self, o: Any) -> "Expr": return self._bin("or", o, reflected=True)
    def __neg__(self) -> "Expr": return UnaryExpr(op="neg", operand=self)
    def __invert__(self) -> "Expr": return UnaryExpr(op="not", operand=self)

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of an expression is ambiguous: {self}; "
                        "use & | ~ instead of and / or / not")

    def __hash__(self) -> int:
        return hash(self.key())

    def is_null(self) -> "Expr":
        """True where the value is null.

        Example:
            >>> import pyarrow as pa
            >>> col("a").is_null().evaluate(pa.table({"a": [1, None]})).to_pylist()
            [False, True]
        """
        return UnaryExpr(op="is_null", operand=self)

    def is_not_null(self) -> "Expr":
        """True where the value is not null."""
        return UnaryExpr(op="is_not_null", operand=self)

    def is_in(self, values: Iterable[Any]) -> "Expr":
        """True where the value is one of ``values``.

        Example:
            >>> import pyarrow as pa
            >>> col("a").is_in([1, 3]).evaluate(pa.table({"a": [1, 2, 3]})).to_pylist()
            [True, False, True]
        """
        if isinstance(values, (str, bytes)):
            raise TypeError("is_in takes a collection of values, not a single string")
        return IsInExpr(operand=self, values=tuple(values))

    def alias(self, name: str) -> "Expr":
        """The same values under the name ``name`` (the output column of ``with_column``)."""
        return AliasExpr(expr=self, name=name)

    # ---- inspecting
    def columns(self) -> frozenset[str]:
        """The names of the columns the expression reads."""
        out: set[str] = set()
        for node in self.walk():
            if isinstance(node, ColumnExpr):
                out.add(node.name)
        return frozenset(out)

    def children(self) -> tuple["Expr", ...]:
        """The direct sub-expressions."""
        return ()

    def walk(self) -> Iterable["Expr"]:
        """This expression and all its sub-expressions, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    def key(self) -> tuple:
        """A hashable structural identity (``==`` builds an expression instead)."""
        raise NotImplementedError

    def structurally_equals(self, other: Any) -> bool:
        """Whether ``other`` is the same expression tree.

        Example:
            >>> (col("a") + 1).structurally_equals(col("a") + 1)
            True
        """
        return isinstance(other, Expr) and self.key() == other.key()

    @property
    def output_name(self) -> str | None:
        """The name the result naturally has (a column's or an alias's), else None."""
        return None

    # ---- running
    def evaluate(self, table: pa.Table) -> pa.Array | pa.ChunkedArray:
        """Compute the expression on ``table``: one value per row.

        Raises:
            ColumnNotFoundError: a column the table does not have (it lists those there are).
            SchemaError: operand types that do not combine (e.g. a string plus a number).
        """
        try:
            out = self._eval(table)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SchemaError(f"cannot evaluate {self}: {exc}") from exc
        if isinstance(out, pa.Scalar):
            out = pa.repeat(out, table.num_rows)
        return out

    def _eval(self, table: pa.Table) -> ArrowValue:
        raise NotImplementedError

    def to_arrow(self) -> pc.Expression:
        """The equivalent ``pyarrow.compute.Expression`` (for pushdown into readers).

        ``//`` and ``%`` are computed in float64 there (exact below 2**53).

        Example:
            >>> print((col("a") > 1).to_arrow())
            (a > 1)
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ColumnExpr(Expr):
    """A column of the input, by name."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"col() takes a column name (str), got {self.name!r}")

    def key(self) -> tuple:
        return ("col", self.name)

    @property
    def output_name(self) -> str | None:
        return self.name

    def _eval(self, table: pa.Table) -> ArrowValue:
        if self.name not in table.column_names:
            raise ColumnNotFoundError(self.name, table.column_names)
        return table.column(self.name)

    def to_arrow(self) -> pc.Expression:
        return pc.field(self.name)

    def __str__(self) -> str:
        return f"col({self.name!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class LiteralExpr(Expr):
    """A constant value."""

    value: Any

    def key(self) -> tuple:
        try:
            hash(self.value)
            return ("lit", type(self.value).__name__, self.value)
        except TypeError:
            return ("lit", type(self.value).__name__, repr(self.value))

    def _eval(self, table: pa.Table) -> ArrowValue:
        return pa.scalar(self.value)

    def to_arrow(self) -> pc.Expression:
        return pc.scalar(self.value)

    def __str__(self) -> str:
        return repr(self.value)

    def __repr__(self) -> str:
        return f"lit({self.value!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BinaryExpr(Expr):
    """``left <op> right`` for arithmetic, comparison and logical operators."""

    op: str
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        if self.op not in _BINARY_SYMBOLS:
            raise ValueError(f"unknown operator {self.op!r}; known: {sorted(_BINARY_SYMBOLS)}")

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def key(self) -> tuple:
        return ("bin", self.op, self.left.key(), self.right.key())

    def _eval(self, table: pa.Table) -> ArrowValue:
        a, b = self.left._eval(table), self.right._eval(table)
        op = self.op
        if op in _ARITH_FUNCS:
            return pc.call_function(_ARITH_FUNCS[op], [a, b])
        if op in _COMPARE_FUNCS:
            return pc.call_function(_COMPARE_FUNCS[op], [a, b])
        if op == "and":
            return pc.and_kleene(a, b)
        if op == "or":
            return pc.or_kleene(a, b)
        if op == "truediv":
            return pc.divide_checked(_to_float(a), _to_float(b))
        if _is_integer(a) and _is_integer(b):
            quotient = _int_floordiv(a, b)
        else:
            quotient = pc.floor(pc.divide(_to_float(a), _to_float(b)))
        if op == "floordiv":
            return quotient
        return pc.subtract(a, pc.multiply(quotient, b))  # mod

    def to_arrow(self) -> pc.Expression:
        a, b = self.left.to_arrow(), self.right.to_arrow()
        op = self.op
        if op in _ARITH_FUNCS:
            return pc.Expression._call(_ARITH_FUNCS[op], [a, b])
        if op in _COMPARE_FUNCS:
            return pc.Expression._call(_COMPARE_FUNCS[op], [a, b])
        if op == "and":
            return pc.Expression._call("and_kleene", [a, b])
        if op == "or":
            return pc.Expression._call("or_kleene", [a, b])
        fa, fb = a.cast(pa.float64()), b.cast(pa.float64())
        if op == "truediv":
            return pc.Expression._call("divide", [fa, fb])
        floor = pc.Expression._call("floor", [pc.Expression._call("divide", [fa, fb])])
        if op == "floordiv":
            return floor
        return pc.Expression._call("subtract", [fa, pc.Expression._call("multiply", [floor, fb])])

    def __str__(self) -> str:
        return f"({self.left} {_BINARY_SYMBOLS[self.op]} {self.right})"


def _is_integer(value: ArrowValue) -> bool:
    return pa.types.is_integer(value.type)


def _to_float(value: ArrowValue) -> ArrowValue:
    if pa.types.is_integer(value.type) or pa.types.is_null(value.type):
        return pc.cast(value, pa.float64())
    return value


def _int_floordiv(a: ArrowValue, b: ArrowValue) -> ArrowValue:
    """Python's floor division on integers (Arrow's divide truncates toward zero)."""
    q = pc.divide_checked(a, b)
    r = pc.subtract(a, pc.multiply(q, b))
    adjust = pc.and_(pc.not_equal(r, 0), pc.xor(pc.less(r, 0), pc.less(b, 0)))
    return pc.if_else(adjust, pc.subtract(q, 1), q)


_UNARY_FUNCS = {"neg": "negate_checked", "not": "invert", "is_null": "is_null",
                "is_not_null": "is_valid"}


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UnaryExpr(Expr):
    """``-x``, ``~x``, ``x.is_null()`` or ``x.is_not_null()``."""

    op: str
    operand: Expr

    def __post_init__(self) -> None:
        if self.op not in _UNARY_FUNCS:
            raise ValueError(f"unknown operator {self.op!r}; known: {sorted(_UNARY_FUNCS)}")

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def key(self) -> tuple:
        return ("unary", self.op, self.operand.key())

    def _eval(self, table: pa.Table) -> ArrowValue:
        return pc.call_function(_UNARY_FUNCS[self.op], [self.operand._eval(table)])

    def to_arrow(self) -> pc.Expression:
        return pc.Expression._call(_UNARY_FUNCS[self.op], [self.operand.to_arrow()])

    def __str__(self) -> str:
        if self.op == "neg":
            return f"(-{self.operand})"
        if self.op == "not":
            return f"(~{self.operand})"
        return f"{self.operand}.{self.op}()"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IsInExpr(Expr):
    """True where the operand is one of ``values``."""

    operand: Expr
    values: tuple

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def key(self) -> tuple:
        return ("is_in", self.operand.key(), LiteralExpr(value=self.values).key())

    def _value_set(self, type_: pa.DataType | None = None) -> pa.Array:
        if type_ is not None and not pa.types.is_null(type_):
            try:
                return pa.array(self.values, type=type_)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                pass
        return pa.array(self.values)

    def _eval(self, table: pa.Table) -> ArrowValue:
        operand = self.operand._eval(table)
        return pc.is_in(operand, value_set=self._value_set(operand.type))

    def to_arrow(self) -> pc.Expression:
        return self.operand.to_arrow().isin(self._value_set())

    def __str__(self) -> str:
        return f"{self.operand}.is_in({list(self.values)!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class AliasExpr(Expr):
    """``expr`` under another name."""

    expr: Expr
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"alias() takes a non-empty name, got {self.name!r}")

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)

    def key(self) -> tuple:
        return ("alias", self.name, self.expr.key())

    @property
    def output_name(self) -> str | None:
        return self.name

    def _eval(self, table: pa.Table) -> ArrowValue:
        return self.expr._eval(table)

    def to_arrow(self) -> pc.Expression:
        return self.expr.to_arrow()

    def __str__(self) -> str:
        return f"{self.expr}.alias({self.name!r})"


def col(name: str) -> Expr:
    """The column ``name`` of the input.

    Example:
        >>> print(col("a") + 1)
        (col('a') + 1)
    """
    return ColumnExpr(name=name)


def lit(value: Any) -> Expr:
    """A constant.

    Example:
        >>> import pyarrow as pa
        >>> lit(7).evaluate(pa.table({"a": [1, 2]})).to_pylist()
        [7, 7]
    """
    return LiteralExpr(value=value)


def conjuncts(expr: Expr) -> list[Expr]:
    """The terms of a chain of ``&`` (the expression itself when it is not one).

    Example:
        >>> [str(e) for e in conjuncts((col("a") > 1) & (col("b") < 2) & col("c"))]
        ["(col('a') > 1)", "(col('b') < 2)", "col('c')"]
    """
    if isinstance(expr, BinaryExpr) and expr.op == "and":
        return conjuncts(expr.left) + conjuncts(expr.right)
    return [expr]


def and_all(exprs: Iterable[Expr]) -> Expr:
    """``e1 & e2 & ...`` of a non-empty sequence of expressions.

    Example:
        >>> print(and_all([col("a") > 1, col("b") < 2]))
        ((col('a') > 1) & (col('b') < 2))
    """
    items = list(exprs)
    if not items:
        raise ValueError("and_all needs at least one expression")
    out = items[0]
    for e in items[1:]:
        out = BinaryExpr(op="and", left=out, right=e)
    return out


def rename_columns(expr: Expr, mapping: dict[str, str]) -> Expr:
    """``expr`` reading column ``mapping.get(c, c)`` wherever it read ``c``.

    Example:
        >>> print(rename_columns((col("a") > 1) & col("b").is_null(), {"a": "x"}))
        ((col('x') > 1) & col('b').is_null())
    """
    if isinstance(expr, ColumnExpr):
        new = mapping.get(expr.name, expr.name)
        return expr if new == expr.name else ColumnExpr(name=new)
    if isinstance(expr, BinaryExpr):
        return BinaryExpr(op=expr.op, left=rename_columns(expr.left, mapping),
                          right=rename_columns(expr.right, mapping))
    if isinstance(expr, UnaryExpr):
        return UnaryExpr(op=expr.op, operand=rename_columns(expr.operand, mapping))
    if isinstance(expr, IsInExpr):
        return IsInExpr(operand=rename_columns(expr.operand, mapping), values=expr.values)
    if isinstance(expr, AliasExpr):
        return AliasExpr(expr=rename_columns(expr.expr, mapping), name=expr.name)
    return expr


__all__ = ["Expr", "ColumnExpr", "LiteralExpr", "BinaryExpr", "UnaryExpr", "IsInExpr",
           "AliasExpr", "col", "lit", "conjuncts", "and_all", "rename_columns"]
