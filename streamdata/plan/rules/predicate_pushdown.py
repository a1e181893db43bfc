"""Predicate pushdown: move expression filters towards (and into) the reads."""

from __future__ import annotations

from streamdata.expressions import Expr, and_all, rename_columns
from streamdata.plan.logical import (
    Filter, LogicalNode, LogicalPlan, Project, RandomizeBlockOrder, RandomShuffle, Read,
    Repartition, Sort, Union, WithColumn,
)
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up


class PredicatePushdownRule(Rule):
    """Expression filters run as early as possible, ideally inside the read.

    Rewrites (``F(e)`` is ``Filter(expr=e)`` in a plain task pool)::

        F(e2)(F(e1)(x))              ⇒ F(e1 & e2)(x)
        F(e)(Project(x))             ⇒ Project(F(e')(x))       e' reads the pre-rename names,
                                                                if every column e reads survives
        F(e)(WithColumn(c)(x))       ⇒ WithColumn(c)(F(e)(x))  if e does not read c
        F(e)(Sort|Repartition|RandomShuffle|RandomizeBlockOrder(x)) ⇒ that(F(e)(x))
        F(e)(Union(a, b))            ⇒ Union(F(e)(a), F(e)(b))
        F(e)(Read(ds))               ⇒ Read(ds.apply_predicate(e))
                                       if ds.supports_predicate_pushdown()

    A source that accepts a predicate must return exactly the matching rows (the filter is
    removed). Nothing is pushed into a node that has other consumers, and a predicate holding a
    generator (``random()``, ``uuid()``, ``monotonically_increasing_id()``) stays where it is:
    moving it would change which rows it numbers or draws for.
    """

    name = "PredicatePushdown"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            if _is_expr_filter(node):
                return _push(node, node.expr, node.input, shared)
            return node

        return rewrite_up(plan, visit)


def _is_expr_filter(node: LogicalNode) -> bool:
    return (isinstance(node, Filter) and node.expr is not None and not node.uses_actors
            and node.expr.is_idempotent())


def _push(filt: Filter, pred: Expr, child: LogicalNode, shared: set[int]) -> LogicalNode:
    """The node replacing ``Filter(pred)(child)``, with the predicate pushed down."""

    def keep() -> LogicalNode:
        if filt.expr is pred and filt.input is child:
            return filt
        return filt.replace(inputs=(child,), expr=pred)

    if id(child) in shared:
        return keep()
    if _is_expr_filter(child) and child.ray_remote_args == filt.ray_remote_args \
            and child.compute == filt.compute:
        return _push(filt, and_all([child.expr, pred]), child.input, shared)
    if isinstance(child, Project):
        renamed = _through_project(child, pred)
        if renamed is None:
            return keep()
        return child.with_inputs(_push(filt, renamed, child.input, shared))
    if isinstance(child, WithColumn):
        if child.column in pred.columns():
            return keep()
        return child.with_inputs(_push(filt, pred, child.input, shared))
    if isinstance(child, (Sort, Repartition, RandomShuffle, RandomizeBlockOrder)):
        return child.with_inputs(_push(filt, pred, child.input, shared))
    if isinstance(child, Union):
        return child.with_inputs(*(_push(filt, pred, i, shared) for i in child.inputs))
    if isinstance(child, Read) and child.datasource.supports_predicate_pushdown():
        prior = dict(child.pushdowns).get("filter")
        note = pred.compact() if prior is None else f"{prior} & {pred.compact()}"
        return child.with_pushdown(child.datasource.apply_predicate(pred), "filter", note)
    return keep()


def _through_project(project: Project, pred: Expr) -> Expr | None:
    """``pred`` in terms of the project's input columns, or None if it reads a column the
    projection creates by renaming onto a dropped one or does not let through."""
    back = {new: old for old, new in project.rename.items()}
    mapping: dict[str, str] = {}
    for c in pred.columns():
        source = back.get(c, c)
        if c not in back and c in project.rename:
            return None  # c was renamed away: it does not exist above the projection
        if source in project.drop:
            return None
        if project.select is not None and source not in project.select:
            return None
        if source != c:
            mapping[c] = source
    return rename_columns(pred, mapping) if mapping else pred
