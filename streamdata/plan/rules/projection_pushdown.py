"""Projection pushdown: merge projections and read only the columns the plan needs."""

from __future__ import annotations

from streamdata.errors import ColumnNotFoundError
import pyarrow as pa

from streamdata.errors import StreamDataError
from streamdata.plan.logical import (
    Aggregate, Filter, Join, Limit, LogicalNode, LogicalPlan, Project, RandomizeBlockOrder,
    RandomSample, RandomShuffle, Read, Repartition, Sort, Union, WithColumn,
)
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up
from streamdata.aggregate import is_builtin

Columns = frozenset[str] | None  # None: every column


class ProjectionPushdownRule(Rule):
    """Sources read only the columns that are used.

    Rewrites::

        Project(p2)(Project(p1)(x))   ⇒ Project(p2 ∘ p1)(x)   when p1 selects (its output is known)
        Project(drop=d)(x)            ⇒ Project(select=cols(x) - d)(x)   when x's schema is known
        ...(Read(ds))                 ⇒ ...(Read(ds.apply_projection(cols)))
                                        cols: the columns the nodes above need, traced through
                                        projections, expression filters, with_column, sorts,
                                        limits, unions, shuffles and built-in aggregations
                                        (a Python function needs every column), and joins
                                        (each side: its keys, the columns above use, and
                                        those both sides have, so suffixes stay the same)
        Project(select=s)(Read(ds))   ⇒ Read(ds.apply_projection(s))   (the source returns the
                                        columns in the given order)

    Only sources with ``supports_projection_pushdown()`` are touched, never with an empty
    column list.
    """

    name = "ProjectionPushdown"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        plan = _merge_projects(plan)
        return _push_into_reads(plan)


# --------------------------------------------------------------------------- merging


def _merge_projects(plan: LogicalPlan) -> LogicalPlan:
    schemas: dict[int, object] = {}

    def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
        if isinstance(node, Project):
            child = node.input
            if isinstance(child, Project) and id(child) not in shared and \
                    child.compute == node.compute and child.ray_remote_args == node.ray_remote_args:
                merged = merge_projects(node, child)
                if merged is not None:
                    node = merged
            if node.drop:
                node = _drop_to_select(node, schemas.get(id(node.input)))
        try:
            schemas[id(node)] = node.infer_schema([schemas.get(id(i)) for i in node.inputs])
        except ColumnNotFoundError:
            schemas[id(node)] = None
        return node

    return rewrite_up(plan, visit)


def _kept(project: Project, columns: list[str]) -> list[str]:
    """Input columns the projection keeps, in output order (before renaming)."""
    out = list(project.select) if project.select is not None else list(columns)
    for c in out:
        if c not in columns:
            raise ColumnNotFoundError(c, columns)
    for c in project.drop:
        if c not in out:
            raise ColumnNotFoundError(c, out)
    return [c for c in out if c not in project.drop]


def merge_projects(outer: Project, inner: Project) -> Project | None:
    """One projection doing ``inner`` then ``outer``, or None when that needs the input schema.

    Example:
        >>> from streamdata.plan.logical import InputData
        >>> inner = Project(inputs=(InputData(),), select=("a", "b", "c"), rename={"a": "x"})
        >>> outer = Project(inputs=(inner,), select=("x", "c"), rename={"c": "y"})
        >>> m = merge_projects(outer, inner)
        >>> m.select, dict(m.rename)
        (('a', 'c'), {'a': 'x', 'c': 'y'})
    """
    if inner.select is None:
        return None
    try:
        inner_out = inner.output_columns(list(inner.select))
        kept = _kept(outer, inner_out)
        for c in outer.rename:
            if c not in kept:
                raise ColumnNotFoundError(c, kept)
    except ColumnNotFoundError:
        return None  # leave it: running it raises the error with the real columns
    back = {new: old for old, new in inner.rename.items()}
    select = tuple(back.get(c, c) for c in kept)
    rename = {}
    for c, src in zip(kept, select):
        final = outer.rename.get(c, c)
        if final != src:
            rename[src] = final
    return outer.replace(inputs=inner.inputs, select=select, drop=(), rename=rename)


def _drop_to_select(project: Project, schema: object) -> Project:
    if schema is None or project.select is not None:
        return project
    names = list(schema.names)  # type: ignore[attr-defined]
    if any(c not in names for c in project.drop):
        return project
    return project.replace(select=tuple(c for c in names if c not in project.drop), drop=())


# --------------------------------------------------------------------------- required columns


def _union(a: Columns, b: Columns) -> Columns:
    if a is None or b is None:
        return None
    return a | b


def _aggregate_columns(node: Aggregate) -> Columns:
    cols = set(node.keys)
    for agg in node.aggs:
        # built-ins read only their `on` column; a user's aggregation may read any
        # column of the rows it is given
        if not is_builtin(agg):
            return None
        cols.update(agg._input_columns())
    return frozenset(cols)


def _input_requirement(node: LogicalNode, needed: Columns) -> Columns:
    """Columns ``node`` needs from its input(s) to produce ``needed`` of its output."""
    if isinstance(node, (Limit, Repartition, RandomShuffle, RandomizeBlockOrder, RandomSample,
                         Union)):
        return needed
    if isinstance(node, Sort):
        return _union(needed, frozenset(node.keys))
    if isinstance(node, Filter):
        return None if node.expr is None else _union(needed, node.expr.columns())
    if isinstance(node, WithColumn):
        if needed is None:
            return None
        return (needed - {node.column}) | node.expr.columns()
    if isinstance(node, Project):
        own = set(node.select or ()) | set(node.drop) | set(node.rename)
        if needed is None:
            return None if node.select is None else frozenset(own)
        back = {new: old for old, new in node.rename.items()}
        return frozenset({back.get(c, c) for c in needed} | own)
    if isinstance(node, Aggregate):
        return _aggregate_columns(node)
    return None  # user functions, joins, zips, writes: everything


def join_requirements(node: Join, needed: Columns, left: pa.Schema | None,
                      right: pa.Schema | None) -> tuple[Columns, Columns]:
    """Columns each side of ``node`` must give to produce ``needed`` of its output.

    A side keeps its keys, the columns whose output (suffixed or not) is needed, and
    every column the other side also has, so that the output names do not change.

    Example:
        >>> s = pa.schema([("id", pa.int64()), ("v", pa.int64()), ("w", pa.int64())])
        >>> r = pa.schema([("id", pa.int64()), ("b", pa.int64())])
        >>> from streamdata.plan.logical import InputData
        >>> j = Join(inputs=(InputData(), InputData()), on=("id",))
        >>> [sorted(c) for c in join_requirements(j, frozenset({"b"}), s, r)]
        [['id'], ['b', 'id']]
    """
    from streamdata.exec.shuffle.join import join_output_names

    if needed is None or left is None or right is None:
        return None, None
    right_keys = node.right_on or node.on
    try:
        left_out, right_out = join_output_names(left, right, node.on, right_keys, node.join_type,
                                                node.left_suffix, node.right_suffix)
    except StreamDataError:
        return None, None  # running the join raises the error, naming the columns
    if node.join_type in ("right_semi", "right_anti"):
        left_out = []
    payload = [n for n in right.names if n not in right_keys] if right_out else []
    shared = set(left.names) & set(right.names)
    left_needs = {n for n, out in zip(left.names, left_out) if out in needed}
    right_needs = {n for n, out in zip(payload, right_out) if out in needed}
    if node.join_type in ("right_semi", "right_anti"):
        right_needs = {n for n in right.names if n in needed}
    return (frozenset(left_needs | set(node.on) | shared),
            frozenset(right_needs | set(right_keys) | shared))


def _requirements(plan: LogicalPlan) -> dict[int, Columns]:
    req: dict[int, Columns] = {id(plan.root): None}
    schemas = _schemas(plan) if any(isinstance(n, Join) for n in plan.nodes()) else {}
    for node in reversed(plan.nodes()):  # every consumer before its inputs
        needed = req.get(id(node))
        if isinstance(node, Join):
            needs = join_requirements(node, needed, *(schemas.get(id(i)) for i in node.inputs))
        else:
            needs = tuple(_input_requirement(node, needed) for _ in node.inputs)
        for child, child_needs in zip(node.inputs, needs):
            req[id(child)] = child_needs if id(child) not in req else _union(req[id(child)],
                                                                              child_needs)
    return req


def _schemas(plan: LogicalPlan) -> dict[int, pa.Schema | None]:
    """Every node's output schema where it is cheap to know (reads read one footer)."""
    schemas: dict[int, pa.Schema | None] = {}
    for node in plan.nodes():  # inputs first
        try:
            schemas[id(node)] = node.infer_schema([schemas.get(id(i)) for i in node.inputs])
        except StreamDataError:
            schemas[id(node)] = None
    return schemas


def _push_into_reads(plan: LogicalPlan) -> LogicalPlan:
    req = _requirements(plan)
    pushed: dict[int, tuple[Read, frozenset[str]]] = {}  # new read id -> (original read, columns)

    def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
        if isinstance(node, Read):
            cols = req.get(id(node))
            ds = node.datasource
            if not cols or not ds.supports_projection_pushdown():
                return node
            schema = ds.schema()
            if schema is not None:
                names = list(schema.names)
                if any(c not in names for c in cols) or set(names) == set(cols):
                    return node  # a missing column fails when run, naming the real columns
                order = [c for c in names if c in cols]
            else:
                order = sorted(cols)
            new = node.with_pushdown(ds.apply_projection(order), "columns", str(order))
            pushed[id(new)] = (node, frozenset(cols))
            return new
        if isinstance(node, Project) and node.select is not None and id(node.input) in pushed \
                and id(node.input) not in shared:
            original, cols = pushed[id(node.input)]
            if cols == frozenset(node.select):
                read = original.with_pushdown(
                    original.datasource.apply_projection(list(node.select)), "columns",
                    str(list(node.select)))
                if not node.drop and not node.rename:
                    return read
                return node.with_inputs(read)
        return node

    return rewrite_up(plan, visit)
