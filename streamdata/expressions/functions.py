"""The functions every expression has: math, ``cast`` and the namespaces
(``.str``, ``.dt``, ``.list``, ``.struct``, ``.map``, ``.arr``).

Each builds a :class:`~streamdata.expressions.core.CallExpr` (an Arrow compute kernel,
so it stays pushable into readers) through ``self._call``; the namespace classes
register themselves in :data:`NAMESPACES` when their modules are imported (the package
imports them all).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions import col
    >>> col("x").abs().evaluate(pa.table({"x": [-2, 3]})).to_pylist()
    [2, 3]
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: namespace name (``"str"``, ``"dt"``...) -> its class, filled by the namespace modules
NAMESPACES: dict[str, type] = {}



def arrow_type(type_: Any, what: str) -> pa.DataType:
    """``type_`` as a ``pyarrow.DataType`` (from Arrow, or a DataType with ``to_arrow_dtype()``)."""
    if isinstance(type_, pa.DataType):
        return type_
    to_arrow = getattr(type_, "to_arrow_dtype", None)
    if callable(to_arrow):
        return to_arrow()
    raise TypeError(f"{what} takes a pyarrow.DataType or a DataType (e.g. pa.int64()), "
                    f"got {type(type_).__name__}: {type_!r}")


class ExprFunctions:
    """Math, ``cast`` and namespace access, mixed into :class:`~streamdata.expressions.core.Expr`."""

    __slots__ = ()

    def _call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _call()")

    def _unary(self, op: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _unary()")

    def _is_in(self, values: Any, negated: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _is_in()")

    def _alias(self, name: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _alias()")

    # ---------------------------------------------------------------- predicates
    def is_null(self) -> Any:
        """True where the value is null.

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions import col
            >>> col("a").is_null().evaluate(pa.table({"a": [1, None]})).to_pylist()
            [False, True]
        """
        return self._unary("is_null")

    def is_not_null(self) -> Any:
        """True where the value is not null."""
        return self._unary("is_not_null")

    def is_in(self, values: Any) -> Any:
        """True where the value is one of ``values`` (a list, or ``lit([...])``).

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions import col
            >>> col("a").is_in([1, 3]).evaluate(pa.table({"a": [1, 2, 3]})).to_pylist()
            [True, False, True]
        """
        return self._is_in(values, negated=False)

    def not_in(self, values: Any) -> Any:
        """True where the value is none of ``values`` (a null is none of them, as in Ray).

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions import col
            >>> col("a").not_in([1, 3]).evaluate(pa.table({"a": [1, 2, None]})).to_pylist()
            [False, True, True]
        """
        return self._is_in(values, negated=True)

    def alias(self, name: str) -> Any:
        """The same values under the name ``name`` (the output column of ``with_column``)."""
        return self._alias(name)

    def nullable(self, input_schema: pa.Schema) -> bool:
        """Whether the result may hold nulls (conservatively True; False for generators)."""
        return True

    def expand_projection(self, input_schema: pa.Schema | None) -> list[Any]:
        """The projection entries this expression stands for (itself; several for
        ``unnest``/``star``)."""
        return [self]

    # ---------------------------------------------------------------- math (Arrow kernels)
    def abs(self) -> Any:
        """``|x|`` (overflow raises). Example: ``col("x").abs()``."""
        return self._call("abs_checked")

    def negate(self) -> Any:
        """``-x`` (overflow raises)."""
        return self._call("negate_checked")

    def sign(self) -> Any:
        """-1, 0 or 1 by the sign of ``x`` (NaN stays NaN)."""
        return self._call("sign")

    def ceil(self) -> Any:
        """The smallest integer value not below ``x`` (a float)."""
        return self._call("ceil")

    def floor(self) -> Any:
        """The largest integer value not above ``x`` (a float)."""
        return self._call("floor")

    def round(self) -> Any:
        """``x`` rounded to the nearest integer, ties to even (Arrow's ``round``)."""
        return self._call("round")

    def trunc(self) -> Any:
        """``x`` with its fraction dropped (towards zero)."""
        return self._call("trunc")

    def power(self, exponent: Any) -> Any:
        """``x ** exponent`` (``exponent``: a number or an expression).

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions import col
            >>> col("x").power(2).evaluate(pa.table({"x": [2, 3]})).to_pylist()
            [4, 9]
        """
        return self._call("power", exponent)

    def sqrt(self) -> Any:
        """The square root (float; negative input gives NaN)."""
        return self._call("sqrt")

    def exp(self) -> Any:
        """``e ** x`` (float64)."""
        return self._call("exp")

    def ln(self) -> Any:
        """The natural logarithm (float64; 0 gives -inf, negative input NaN)."""
        return self._call("ln")

    def log10(self) -> Any:
        """The base-10 logarithm (float64)."""
        return self._call("log10")

    def log2(self) -> Any:
        """The base-2 logarithm (float64)."""
        return self._call("log2")

    def sin(self) -> Any:
        """The sine of ``x`` in radians."""
        return self._call("sin")

    def cos(self) -> Any:
        """The cosine of ``x`` in radians."""
        return self._call("cos")

    def tan(self) -> Any:
        """The tangent of ``x`` in radians."""
        return self._call("tan")

    def asin(self) -> Any:
        """The arcsine, in radians."""
        return self._call("asin")

    def acos(self) -> Any:
        """The arccosine, in radians."""
        return self._call("acos")

    def atan(self) -> Any:
        """The arctangent, in radians."""
        return self._call("atan")

    def cast(self, target_type: Any, *, safe: bool = True) -> Any:
        """``x`` converted to ``target_type`` (a ``pyarrow.DataType`` or a Ray-style
        ``DataType`` with ``to_arrow_dtype()``); ``safe=True`` raises on overflow or
        lost precision, ``safe=False`` allows them.

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions import col
            >>> col("x").cast(pa.string()).evaluate(pa.table({"x": [1, 2]})).to_pylist()
            ['1', '2']
        """
        return self._call("cast", safe=bool(safe), target_type=arrow_type(target_type, "cast"))

    # ---------------------------------------------------------------- namespaces
    def _namespace(self, name: str) -> Any:
        try:
            return NAMESPACES[name](self)
        except KeyError:
            raise AttributeError(f"the .{name} namespace is not loaded") from None

    @property
    def str(self) -> Any:
        """String functions: ``col("s").str.upper()``, ``.str.len()``, ``.str.contains("x")``..."""
        return self._namespace("str")

    @property
    def dt(self) -> Any:
        """Timestamp functions: ``col("t").dt.year()``, ``.dt.strftime("%Y")``..."""
        return self._namespace("dt")

    @property
    def list(self) -> Any:
        """List functions: ``col("l").list.len()``, ``.list[0]``, ``.list[1:3]``..."""
        return self._namespace("list")

    @property
    def struct(self) -> Any:
        """Struct functions: ``col("s").struct["field"]``, ``.struct.field_by_index(0)``."""
        return self._namespace("struct")

    @property
    def map(self) -> Any:
        """Map functions: ``col("m").map.keys()``, ``.map.values()``."""
        return self._namespace("map")

    @property
    def arr(self) -> Any:
        """Array functions: ``col("a").arr.to_list()``."""
        return self._namespace("arr")


__all__ = ["NAMESPACES", "ExprFunctions", "arrow_type"]
