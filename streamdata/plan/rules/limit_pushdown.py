"""Limit pushdown: stop reading and transforming once enough rows are there."""

from __future__ import annotations

from streamdata.plan.logical import (
    AbstractMap, FusedMap, Limit, LogicalNode, LogicalPlan, Read, Union,
)
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up


class LimitPushdownRule(Rule):
    """Limits move below the operations that keep one output row per input row, when that
    lets a source stop early (moving one only past maps would just split a fused map).

    Rewrites::

        Limit(n)(Limit(m)(x))          ⇒ Limit(min(n, m))(x)
        Limit(n)(M1(..Mk(Read(ds))))   ⇒ M1(..Mk(Limit(n)(Read(ds.apply_limit(n)))))
                                         M1..Mk keep rows 1:1 (map, project, with_column);
                                         ds.supports_limit_pushdown() (a source may read a few
                                         more rows than asked: the Limit above it stays)
        Limit(n)(Union(a, b))          ⇒ Limit(n)(Union(a', b'))   a', b': a and b with
                                         Limit(n) pushed in as above, where it goes

    Nothing is pushed into a node that has other consumers.
    """

    name = "LimitPushdown"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            if isinstance(node, Limit):
                pushed = _sink(node.limit, node.input, shared)
                return node if pushed is None else pushed
            return node

        return rewrite_up(plan, visit)


def _preserves_rows(node: LogicalNode) -> bool:
    if isinstance(node, FusedMap):
        return node.preserves_rows_all
    return isinstance(node, AbstractMap) and node.preserves_rows


def _sink(n: int, child: LogicalNode, shared: set[int]) -> LogicalNode | None:
    """``Limit(n)(child)`` with the limit pushed somewhere useful, or None if nowhere."""
    if id(child) in shared:
        return None
    if isinstance(child, Limit):
        k = min(n, child.limit)
        return _sink(k, child.input, shared) or Limit(inputs=(child.input,), limit=k)
    if _preserves_rows(child):
        below = _sink(n, child.input, shared)
        return None if below is None else child.with_inputs(below)
    if isinstance(child, Union):
        branches = [_sink(n, b, shared) for b in child.inputs]
        if all(b is None for b in branches):
            return None
        new = child.with_inputs(*(b or old for b, old in zip(branches, child.inputs)))
        return Limit(inputs=(new,), limit=n)
    if isinstance(child, Read) and child.datasource.supports_limit_pushdown():
        read = child.with_pushdown(child.datasource.apply_limit(n), "limit", str(n))
        return Limit(inputs=(read,), limit=n)
    return None
