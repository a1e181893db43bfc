"""Rewriting expressions: splitting and joining conjunctions, renaming columns.

Example:
    >>> from streamdata.expressions.core import col
    >>> print(rename_columns((col("a") > 1) & col("b").is_null(), {"a": "x"}).compact())
    ((col('x') > 1) & col('b').is_null())
"""

from __future__ import annotations

from typing import Callable, Iterable

from streamdata.expressions.core import BinaryExpr, ColumnExpr, Expr


def conjuncts(expr: Expr) -> list[Expr]:
    """The terms of a chain of ``&`` (the expression itself when it is not one).

    Example:
        >>> from streamdata.expressions.core import col
        >>> [e.compact() for e in conjuncts((col("a") > 1) & (col("b") < 2) & col("c"))]
        ["(col('a') > 1)", "(col('b') < 2)", "col('c')"]
    """
    if isinstance(expr, BinaryExpr) and expr.op == "and":
        return conjuncts(expr.left) + conjuncts(expr.right)
    return [expr]


def and_all(exprs: Iterable[Expr]) -> Expr:
    """``e1 & e2 & ...`` of a non-empty sequence of expressions.

    Example:
        >>> from streamdata.expressions.core import col
        >>> print(and_all([col("a") > 1, col("b") < 2]).compact())
        ((col('a') > 1) & (col('b') < 2))
    """
    items = list(exprs)
    if not items:
        raise ValueError("and_all needs at least one expression")
    out = items[0]
    for e in items[1:]:
        out = BinaryExpr(op="and", left=out, right=e)
    return out


def transform(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """``expr`` rebuilt bottom-up with ``fn`` applied to every node (unchanged subtrees reused).

    Example:
        >>> from streamdata.expressions.core import col, lit
        >>> print(transform(col("a") + 1, lambda e: lit(2) if e.compact() == "1" else e).compact())
        (col('a') + 2)
    """
    children = expr.children()
    if children:
        new = tuple(transform(c, fn) for c in children)
        if any(n is not c for n, c in zip(new, children)):
            expr = expr.with_children(new)
    return fn(expr)


def rename_columns(expr: Expr, mapping: dict[str, str]) -> Expr:
    """``expr`` reading column ``mapping.get(c, c)`` wherever it read ``c``."""

    def rename(node: Expr) -> Expr:
        if isinstance(node, ColumnExpr) and mapping.get(node.name, node.name) != node.name:
            return ColumnExpr(name=mapping[node.name])
        return node

    return transform(expr, rename)


__all__ = ["and_all", "conjuncts", "rename_columns", "transform"]
