"""The expression tree: :class:`Expr`, columns, literals, operators and Arrow compute calls.

Expressions are immutable trees, evaluated vectorized on a ``pyarrow.Table`` (:meth:`Expr.evaluate`);
when every node is an Arrow kernel they translate to a ``pyarrow.compute.Expression``
(:meth:`Expr.to_arrow`) so sources such as Parquet can prune columns and row groups. Semantics follow Python where
Arrow allows: ``/`` is true division (integers give floats), ``//`` and ``%`` floor;
``&``, ``|`` and ``~`` are logical with SQL null semantics (a filter drops rows where the
predicate is null). Because ``==`` builds an expression, an expression has no truth
value: use ``&``, ``|``, ``~`` instead of ``and``, ``or``, ``not``.

Example:
    >>> import pyarrow as pa
    >>> e = (col("a") > 1) & col("b").is_in(["x", "y"])
    >>> print(e.compact())
    ((col('a') > 1) & col('b').is_in(['x', 'y']))
    >>> t = pa.table({"a": [1, 2, 3], "b": ["x", "z", "y"]})
    >>> e.evaluate(t).to_pylist()
    [False, False, True]
    >>> (col("a") * 2 + lit(1)).sqrt().round().evaluate(t).to_pylist()
    [2.0, 2.0, 3.0]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import ColumnNotFoundError, SchemaError
from streamdata.expressions.evaluation import EvalContext, floordiv, process_context, to_float
from streamdata.expressions.functions import NAMESPACES, ExprFunctions, arrow_type
from streamdata.expressions.tree_repr import call_label, literal_label, render

ArrowValue = pa.Array | pa.ChunkedArray | pa.Scalar


class Operation(str, enum.Enum):
    """The operators of :class:`BinaryExpr` and :class:`UnaryExpr` (Ray's names)."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MOD = "mod"
    FLOORDIV = "floordiv"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    EQ = "eq"
    NE = "ne"
    AND = "and"
    OR = "or"
    NOT = "not"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"
    IN = "in"
    NOT_IN = "not_in"
    NEG = "neg"


_BINARY_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "&", "or": "|",
}
_COMPARE_FUNCS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                  "gt": "greater", "ge": "greater_equal"}
_ARITH_FUNCS = {"add": "add_checked", "sub": "subtract_checked", "mul": "multiply_checked"}
_UNARY_FUNCS = {"neg": "negate_checked", "not": "invert", "is_null": "is_null",
                "is_not_null": "is_valid"}


def _coerce(value: Any) -> "Expr":  # a literal unless already an expression
    return value if isinstance(value, Expr) else LiteralExpr(value=value)


class Expr(ExprFunctions):
    """Base of all expressions (build them with :func:`col` and :func:`lit`)."""

    __slots__ = ()

    # ---------------------------------------------------------------- operators
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
    def __truediv__(self, o: Any) -> "Expr": return self._bin("div", o)
    def __rtruediv__(self, o: Any) -> "Expr": return self._bin("div", o, reflected=True)
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
        raise TypeError(f"the truth value of an expression is ambiguous: {self.compact()}; "
                        "use & | ~ instead of and / or / not")

    def __hash__(self) -> int:
        return hash(self.key())

    # ---------------------------------------------------------------- node builders
    # (the documented methods -- is_null, is_in, not_in, alias, math... -- are in .functions)
    def _unary(self, op: str) -> "Expr":
        return UnaryExpr(op=op, operand=self)

    def _is_in(self, values: Any, negated: bool) -> "Expr":
        return IsInExpr(operand=self, values=_value_list("not_in" if negated else "is_in", values),
                        negated=negated)

    def _alias(self, name: str) -> "Expr":
        return AliasExpr(expr=self, name=name)

    def _call(self, fn: str, *args: Any, **kwargs: Any) -> "Expr":
        return CallExpr(fn=fn, args=(self,) + tuple(_coerce(a) for a in args),
                        kwargs=tuple(sorted(kwargs.items())), method=fn.removesuffix("_checked"))

    # ---------------------------------------------------------------- inspecting
    def columns(self) -> frozenset[str]:
        """The names of the columns the expression reads."""
        return frozenset(n.name for n in self.walk() if isinstance(n, ColumnExpr))

    def children(self) -> tuple["Expr", ...]:
        """The direct sub-expressions."""
        return ()

    def with_children(self, children: tuple["Expr", ...]) -> "Expr":
        """This node over other sub-expressions (same number, same order)."""
        return self

    def walk(self) -> Iterable["Expr"]:
        """This expression and all its sub-expressions, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    def key(self) -> tuple:
        """A hashable structural identity (``==`` builds an expression instead)."""
        raise NotImplementedError(type(self).__name__)

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

    def is_idempotent(self) -> bool:
        """False when the tree holds a generator (``random``, ``uuid``,
        ``monotonically_increasing_id``): such an expression must not be moved or duplicated."""
        return all(getattr(n, "_idempotent", True) for n in self.walk())

    def is_pyarrow_convertible(self) -> bool:
        """Whether :meth:`to_arrow` works (no Python UDF, download or generator inside)."""
        return all(getattr(n, "_arrow", True) for n in self.walk())

    _is_pyarrow_convertible = is_pyarrow_convertible

    def get_type(self, input_schema: pa.Schema) -> pa.DataType | None:
        """The result's Arrow type for input of ``input_schema`` (None when unknown)."""
        try:
            return self.evaluate(input_schema.empty_table()).type
        except Exception:  # noqa: BLE001 - a type that cannot be told statically
            return None

    def to_field(self, input_schema: pa.Schema) -> pa.Field | None:
        """The output field (``output_name`` and :meth:`get_type`), None when either is unknown."""
        type_ = self.get_type(input_schema)
        return None if type_ is None or self.output_name is None else pa.field(self.output_name, type_)

    # ---------------------------------------------------------------- running
    def evaluate(self, table: pa.Table, context: EvalContext | None = None) -> pa.Array | pa.ChunkedArray:
        """Compute the expression on ``table``: one value per row.

        Args:
            table: the block.
            context: the running task's :class:`EvalContext` (one per task); without
                it, generators number and seed per process.

        Raises:
            ColumnNotFoundError: a column the table does not have (it lists those there are).
            SchemaError: operand types that do not combine (a string plus a number), or values
                a kernel rejects (an overflow, a lossy cast, a missing struct field).
        """
        ctx = context if context is not None else process_context()
        try:
            out = self._eval(table, ctx)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            raise SchemaError(f"cannot evaluate {self.compact()}: {exc}") from exc
        ctx.blocks_seen += 1
        if isinstance(out, pa.Scalar):
            out = pa.repeat(out, table.num_rows)
        return out

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        raise NotImplementedError(type(self).__name__)

    def to_arrow(self) -> pc.Expression:
        """The equivalent ``pyarrow.compute.Expression`` (for pushdown into readers).

        ``//`` and ``%`` are computed in float64 there (exact below 2**53).

        Raises:
            TypeError: a node Arrow cannot express (a Python UDF, a download, a generator).

        Example:
            >>> print((col("a") > 1).to_arrow())
            (a > 1)
        """
        raise TypeError(f"{self.compact()} cannot run as a pyarrow compute expression")

    def to_pyarrow(self) -> pc.Expression:  # Ray's name for to_arrow
        return self.to_arrow()

    name = property(lambda self: self.output_name, doc="Ray's name for :attr:`output_name`.")

    def compact(self) -> str:
        """The expression on one line, as plans, stats and errors show it: ``(col('a') + 1)``."""
        raise NotImplementedError(type(self).__name__)

    def _tree(self) -> tuple[str, tuple]:  # (label, ((edge, child), ...)): see .tree_repr
        return type(self).__name__, tuple(("", c) for c in self.children())

    def __repr__(self) -> str:  # also str(): Ray's tree form
        return render(self)


def _value_list(method: str, values: Any) -> tuple:
    if isinstance(values, LiteralExpr):
        values = values.value
    if isinstance(values, Expr) or isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{method} takes a list of values, got {values!r}")
    return tuple(values)


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

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        if self.name not in table.column_names:
            raise ColumnNotFoundError(self.name, table.column_names)
        return table.column(self.name)

    def to_arrow(self) -> pc.Expression:
        return pc.field(self.name)

    def compact(self) -> str:
        return f"col({self.name!r})"

    def _tree(self) -> tuple[str, tuple]: return f"COL({self.name!r})", ()


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

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        return self.value if isinstance(self.value, pa.Scalar) else pa.scalar(self.value)

    def to_arrow(self) -> pc.Expression:
        return pc.scalar(self.value)

    def compact(self) -> str:
        return repr(self.value)

    def _tree(self) -> tuple[str, tuple]: return literal_label(self.value), ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BinaryExpr(Expr):
    """``left <op> right`` for arithmetic, comparison and logical operators."""

    op: str
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        op = self.op.value if isinstance(self.op, Operation) else self.op
        op = "div" if op == "truediv" else op
        if op in ("in", "not_in"):  # Ray's spelling of is_in / not_in
            object.__setattr__(self, "op", op)
            return
        if op not in _BINARY_SYMBOLS:
            raise ValueError(f"unknown operator {self.op!r}; known: {sorted(_BINARY_SYMBOLS)}")
        object.__setattr__(self, "op", op)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return BinaryExpr(op=self.op, left=children[0], right=children[1])

    def key(self) -> tuple:
        return ("bin", self.op, self.left.key(), self.right.key())

    def _as_is_in(self) -> "IsInExpr":
        return self.left._is_in(self.right, negated=self.op == "not_in")  # type: ignore[return-value]

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        if self.op in ("in", "not_in"):
            return self._as_is_in()._eval(table, ctx)
        a, b = self.left._eval(table, ctx), self.right._eval(table, ctx)
        op = self.op
        if op in _ARITH_FUNCS:
            return pc.call_function(_ARITH_FUNCS[op], [a, b])
        if op in _COMPARE_FUNCS:
            return pc.call_function(_COMPARE_FUNCS[op], [a, b])
        if op == "and":
            return pc.and_kleene(a, b)
        if op == "or":
            return pc.or_kleene(a, b)
        if op == "div":
            return pc.divide_checked(to_float(a), to_float(b))
        quotient = floordiv(a, b)
        if op == "floordiv":
            return quotient
        return pc.subtract(a, pc.multiply(quotient, b))  # mod

    def to_arrow(self) -> pc.Expression:
        if self.op in ("in", "not_in"):
            return self._as_is_in().to_arrow()
        a, b = self.left.to_arrow(), self.right.to_arrow()
        op = self.op
        if op in _ARITH_FUNCS:
            return pc.Expression._call(_ARITH_FUNCS[op], [a, b])
        if op in _COMPARE_FUNCS:
            return pc.Expression._call(_COMPARE_FUNCS[op], [a, b])
        if op in ("and", "or"):
            return pc.Expression._call(f"{op}_kleene", [a, b])
        fa, fb = a.cast(pa.float64()), b.cast(pa.float64())
        if op == "div":
            return pc.Expression._call("divide", [fa, fb])
        floor = pc.Expression._call("floor", [pc.Expression._call("divide", [fa, fb])])
        if op == "floordiv":
            return floor
        return pc.Expression._call("subtract", [fa, pc.Expression._call("multiply", [floor, fb])])

    def compact(self) -> str:
        if self.op in ("in", "not_in"):
            return self._as_is_in().compact()
        return f"({self.left.compact()} {_BINARY_SYMBOLS[self.op]} {self.right.compact()})"

    def _tree(self) -> tuple[str, tuple]: return self.op.upper(), (("left", self.left), ("right", self.right))


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UnaryExpr(Expr):
    """``-x``, ``~x``, ``x.is_null()`` or ``x.is_not_null()``."""

    op: str
    operand: Expr

    def __post_init__(self) -> None:
        op = self.op.value if isinstance(self.op, Operation) else self.op
        if op not in _UNARY_FUNCS:
            raise ValueError(f"unknown operator {self.op!r}; known: {sorted(_UNARY_FUNCS)}")
        object.__setattr__(self, "op", op)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return UnaryExpr(op=self.op, operand=children[0])

    def key(self) -> tuple:
        return ("unary", self.op, self.operand.key())

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        return pc.call_function(_UNARY_FUNCS[self.op], [self.operand._eval(table, ctx)])

    def to_arrow(self) -> pc.Expression:
        return pc.Expression._call(_UNARY_FUNCS[self.op], [self.operand.to_arrow()])

    def compact(self) -> str:
        if self.op in ("neg", "not"):
            return f"({'-' if self.op == 'neg' else '~'}{self.operand.compact()})"
        return f"{self.operand.compact()}.{self.op}()"

    def _tree(self) -> tuple[str, tuple]: return self.op.upper(), (("operand", self.operand),)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IsInExpr(Expr):
    """True where the operand is one of ``values`` (none of them when ``negated``)."""

    operand: Expr
    values: tuple
    negated: bool = False

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return IsInExpr(operand=children[0], values=self.values, negated=self.negated)

    def key(self) -> tuple:
        return ("is_in", self.negated, self.operand.key(), LiteralExpr(value=self.values).key())

    def _value_set(self, type_: pa.DataType | None = None) -> pa.Array:
        if type_ is not None and not pa.types.is_null(type_):
            try:
                return pa.array(self.values, type=type_)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                pass
        return pa.array(self.values)

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        operand = self.operand._eval(table, ctx)
        out = pc.is_in(operand, value_set=self._value_set(operand.type))
        return pc.invert(out) if self.negated else out  # a null is not in the list (as Ray's)

    def to_arrow(self) -> pc.Expression:
        out = self.operand.to_arrow().isin(self._value_set())
        return ~out if self.negated else out

    def compact(self) -> str:
        return f"{self.operand.compact()}.{'not_in' if self.negated else 'is_in'}({list(self.values)!r})"

    def _tree(self) -> tuple[str, tuple]:  # Ray's is a binary IN / NOT_IN over a list literal
        return "NOT_IN" if self.negated else "IN", (("left", self.operand), ("right", lit(list(self.values))))


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

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return AliasExpr(expr=children[0], name=self.name)

    def key(self) -> tuple:
        return ("alias", self.name, self.expr.key())

    @property
    def output_name(self) -> str | None:
        return self.name

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        return self.expr._eval(table, ctx)

    def to_arrow(self) -> pc.Expression:
        return self.expr.to_arrow()

    def compact(self) -> str:
        return f"{self.expr.compact()}.alias({self.name!r})"

    def _tree(self) -> tuple[str, tuple]: return f"ALIAS({self.name!r})", (("", self.expr),)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CallExpr(Expr):
    """``pyarrow.compute.<fn>(*args, **kwargs)``: a vectorized Arrow kernel over
    sub-expressions, convertible to a compute expression for pushdown (Ray's
    ``PyArrowComputeUDFExpr``). ``method`` is how it prints (``str.upper``...).
    """

    fn: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    method: str = ""

    def __post_init__(self) -> None:
        if self.fn != "cast" and not callable(getattr(pc, self.fn, None)):
            raise ValueError(f"{self.fn!r} is not a pyarrow.compute function")

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return CallExpr(fn=self.fn, args=tuple(children), kwargs=self.kwargs, method=self.method)

    def key(self) -> tuple:
        return ("call", self.fn, tuple(a.key() for a in self.args),
                tuple((k, repr(v)) for k, v in self.kwargs))

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        args = [a._eval(table, ctx) for a in self.args]
        kwargs = dict(self.kwargs)
        if self.fn == "cast":
            return pc.cast(args[0], **kwargs)
        return getattr(pc, self.fn)(*args, **kwargs)

    def to_arrow(self) -> pc.Expression:
        args = [a.to_arrow() for a in self.args]
        kwargs = dict(self.kwargs)
        if self.fn == "cast":
            return args[0].cast(kwargs["target_type"], safe=kwargs["safe"])
        return getattr(pc, self.fn)(*args, **kwargs)

    def compact(self) -> str:
        first = self.args[0].compact()
        if self.method.endswith("[]") and self.kwargs:  # an index: s.struct['x']
            v = self.kwargs[0][1]
            return f"{first}.{self.method[:-2]}[{(v[0] if isinstance(v, list) else v)!r}]"
        if self.fn == "cast":
            opts = dict(self.kwargs)
            return f"{first}.cast({opts['target_type']}{'' if opts['safe'] else ', safe=False'})"
        extra = [a.compact() for a in self.args[1:]] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{first}.{self.method or self.fn}({', '.join(extra)})"

    def _tree(self) -> tuple[str, tuple]:  # Ray keeps the options and literal arguments in the UDF
        return call_label(self.method or self.fn), tuple(
            (f"arg[{i}]", a) for i, a in enumerate(self.args) if i == 0 or not isinstance(a, LiteralExpr))


def col(name: str) -> ColumnExpr:
    """The column ``name`` of the input.

    Example:
        >>> print(col("a"))
        COL('a')
    """
    return ColumnExpr(name=name)


def lit(value: Any) -> LiteralExpr:
    """A constant.

    Example:
        >>> import pyarrow as pa
        >>> lit(7).evaluate(pa.table({"a": [1, 2]})).to_pylist()
        [7, 7]
    """
    return LiteralExpr(value=value)


def call(fn: str, *args: Any, method: str = "", **kwargs: Any) -> CallExpr:
    """``pyarrow.compute.<fn>`` over expressions (others become literals) and options.

    Example:
        >>> import pyarrow as pa
        >>> call("utf8_upper", col("s")).evaluate(pa.table({"s": ["a"]})).to_pylist()
        ['A']
    """
    return CallExpr(fn=fn, args=tuple(_coerce(a) for a in args),
                    kwargs=tuple(sorted(kwargs.items())), method=method)


__all__ = ["AliasExpr", "BinaryExpr", "CallExpr", "ColumnExpr", "EvalContext", "Expr", "IsInExpr",
           "LiteralExpr", "NAMESPACES", "Operation", "UnaryExpr", "arrow_type", "call", "col", "lit"]
