"""Expressions that stand for several columns in a projection: :func:`star` and :func:`unnest`.

They have no value of their own; :func:`expand_projection` turns a list holding them into
plain named expressions against an input schema (what ``select``/``with_columns`` do).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions.core import col
    >>> schema = pa.schema([("a", pa.int64()), ("s", pa.struct([("x", pa.int64()), ("y", pa.string())]))])
    >>> [e.compact() for e in expand_projection([star(), unnest(col("s"))], schema)]
    ["col('a')", "col('s')", "col('s').struct[0].alias('x')", "col('s').struct[1].alias('y')"]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.expressions.core import ArrowValue, ColumnExpr, EvalContext, Expr


class _MultiColumn(Expr):
    __slots__ = ()
    _arrow = False

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        raise PlanError(f"{self.compact()} stands for several columns; use it in select_columns / "
                        "with_columns, not where one value per row is needed")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class StarExpr(_MultiColumn):
    """Every column of the input, in order."""

    def key(self) -> tuple:
        return ("star",)

    def expand_projection(self, input_schema: pa.Schema | None) -> list[Expr]:
        return expand_projection([self], input_schema)

    def compact(self) -> str:
        return "star()"

    def _tree(self) -> tuple[str, tuple]:
        return "COL(*)", ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UnnestExpr(_MultiColumn):
    """One column per field of the struct-valued ``expr``, named after the fields."""

    expr: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        return UnnestExpr(expr=children[0])

    def key(self) -> tuple:
        return ("unnest", self.expr.key())

    def expand_projection(self, input_schema: pa.Schema | None) -> list[Expr]:
        return self.expand(input_schema)

    def alias(self, name: str) -> Expr:
        raise TypeError("unnest() cannot be aliased: its columns are named after the struct's fields")

    def expand(self, input_schema: pa.Schema | None) -> list[Expr]:
        """``expr.struct.field_by_index(i).alias(name_i)`` for each struct field."""
        type_ = self.expr.get_type(input_schema) if input_schema is not None else None
        if type_ is None:
            raise PlanError(f"{self.compact()} needs the struct type of {self.expr.compact()} when the plan is built; "
                            "declare it (a UDF's return_dtype) or keep the input's schema known")
        if not pa.types.is_struct(type_):
            raise TypeError(f"unnest() needs a struct-valued expression; {self.expr.compact()} is {type_}")
        names = [type_.field(i).name for i in range(type_.num_fields)]
        dupes = sorted(n for n, c in Counter(names).items() if c > 1)
        if dupes:
            raise PlanError(f"unnest() of a struct with duplicate field names {dupes}")
        return [self.expr.struct.field_by_index(i).alias(n) for i, n in enumerate(names)]

    def compact(self) -> str:
        return f"unnest({self.expr.compact()})"

    def _tree(self) -> tuple[str, tuple]:
        return "UNNEST", (("", self.expr),)


def star() -> StarExpr:
    """All columns of the input (in ``select_columns``/``with_columns`` lists).

    Example:
        >>> print(star())
        COL(*)
    """
    return StarExpr()


def unnest(expr: Expr) -> UnnestExpr:
    """One output column per field of the struct-valued ``expr``.

    Example:
        >>> from streamdata.expressions.core import col
        >>> print(unnest(col("s")))
        UNNEST
            └── COL('s')
    """
    if isinstance(expr, UnnestExpr):
        raise TypeError("unnest() cannot wrap another unnest()")
    if not isinstance(expr, Expr):
        raise TypeError(f"unnest() takes an expression, got {type(expr).__name__}")
    return UnnestExpr(expr=expr)


def expand_projection(exprs: Sequence[Expr], input_schema: pa.Schema | None) -> list[Expr]:
    """``exprs`` with :func:`star` replaced by every input column and :func:`unnest` by
    its fields."""
    out: list[Expr] = []
    for e in exprs:
        if isinstance(e, StarExpr):
            if input_schema is None:
                raise PlanError("star() needs the input's schema when the plan is built")
            out.extend(ColumnExpr(name=n) for n in input_schema.names)
        elif isinstance(e, UnnestExpr):
            out.extend(e.expand(input_schema))
        else:
            out.append(e)
    return out


__all__ = ["StarExpr", "UnnestExpr", "expand_projection", "star", "unnest"]
