"""Display and small checks of the Dataset facade: ``repr``/``_repr_html_`` text (what
Ray 2.60 prints, computed without running anything), seed checks, and
``join(validate_schemas=True)``.

``repr(ds)`` (and ``str(ds)``, ``print(ds)``) follows Ray's rules:

* the schema and row count are those a whole run of the dataset saw (``take_all``, a whole
  ``iter_batches``..., :mod:`streamdata.dataset_observed`), else what Ray knows without
  running the plan (:mod:`streamdata.dataset_display_plan`), or a schema ``ds.schema()``
  ran the plan for (remembered, as Ray does);
* a known schema gives the table form (:func:`streamdata.dataset_repr.format_table`): for a
  dataset whose blocks are already computed (``materialize()``, ``from_items``,
  ``from_pandas``, ``from_numpy``, ``from_arrow``, the ``from_*_refs``, ``split``...) with its
  first and last rows (only the blocks holding them are read; no plan runs), else
  ``(Dataset isn't materialized)``;
* an unknown schema (or one without columns) gives the summary form
  (:func:`streamdata.dataset_repr.format_summary`): the operators, sources left out, above
  the source's ``Dataset(num_rows=..., schema=...)`` (``num_rows=?, schema=Unknown schema``
  under an operator with several inputs).

A notebook shows the same text (Ray shows it too when ipywidgets is not installed).

May import: base modules, :mod:`streamdata.plan` (node types), :mod:`streamdata.io`
(datasource types), :mod:`streamdata.execution` (to read materialized blocks) and
:mod:`streamdata.dataset_display_plan`; a Dataset is passed in.

Example:
    >>> import streamdata as sd
    >>> sd.range(1000).map_batches(lambda batch: {"id": batch["id"] * 2})
    MapBatches(<lambda>)
    +- Dataset(num_rows=1000, schema={id: int64})
    >>> sd.range(1000).filter(lambda row: row["id"] > 3)
    shape: (?, 1)
    ╭───────╮
    │ id    │
    │ ---   │
    │ int64 │
    ╰───────╯
    (Dataset isn't materialized)
    >>> sd.from_items([{"a": i} for i in range(150)])
    shape: (150, 1)
    ╭───────╮
    │ a     │
    │ ---   │
    │ int64 │
    ╞═══════╡
    │ 0     │
    │ 1     │
    │ 2     │
    │ 3     │
    │ 4     │
    │ …     │
    │ 145   │
    │ 146   │
    │ 147   │
    │ 148   │
    │ 149   │
    ╰───────╯
    (Showing 10 of 150 rows)
    >>> check_seed("random_shuffle", "x")
    Traceback (most recent call last):
    ...
    streamdata.errors.PlanError: random_shuffle seed must be an int or None, got 'x'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import pyarrow as pa

from streamdata.dataset_display_plan import dag_lines, display_plan
from streamdata.dataset_observed import observed
from streamdata.dataset_repr import format_rows, format_summary, format_table, preview_targets
from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.plan.logical import InputData, LogicalNode, Read


def check_seed(what: str, seed: Any) -> None:
    """Raise PlanError unless ``seed`` is an int or None."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PlanError(f"{what} seed must be an int or None, got {seed!r}")


def validate_join_schemas(left: Any, right: Any, lkeys: Sequence[str],
                           rkeys: Sequence[str]) -> None:
    """``join(validate_schemas=True)``: key columns on both sides, with the same types."""
    ls, rs = left.schema(), right.schema()
    if ls is None or rs is None:
        return
    for lk, rk in zip(lkeys, rkeys):
        if lk not in ls.names:
            raise ColumnNotFoundError(lk, ls.names)
        if rk not in rs.names:
            raise ColumnNotFoundError(rk, rs.names)
        lt, rt = ls.field(lk).type, rs.field(rk).type
        if lt != rt:
            raise SchemaError(f"join(validate_schemas=True): key {lk!r} is {lt} on the left but "
                              f"{rk!r} is {rt} on the right")


# --------------------------------------------------------------------------- repr


def _in_memory_tables(root: LogicalNode) -> list[pa.Table] | None:
    """The tables of a ``from_*`` source (held by the driver; Ray's are materialized)."""
    from streamdata.io.memory import ArrowTablesDatasource

    if isinstance(root, Read) and isinstance(root.datasource, ArrowTablesDatasource):
        return root.datasource.tables
    return None


def _is_materialized(ds: Any) -> bool:
    root = ds._plan.root
    return isinstance(root, InputData) or _in_memory_tables(root) is not None


def _blocks(root: LogicalNode) -> list[tuple[Any, int | None]]:
    """``(block or ref, rows)`` of a materialized dataset's blocks, in order."""
    tables = _in_memory_tables(root)
    if tables is not None:
        return [(t, t.num_rows) for t in tables]
    return [(ref, meta.num_rows) for bundle in root.bundles for ref, meta in bundle.blocks]


def _preview(ds: Any, num_rows: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first and last rows a materialized dataset shows; reads only their blocks."""
    from streamdata import block as B

    head_n, tail_n = preview_targets(num_rows)
    blocks = _blocks(ds._plan.root)
    cache: dict[int, pa.Table] = {}

    def table(i: int) -> pa.Table:
        if i not in cache:
            value = blocks[i][0]
            if not isinstance(value, pa.Table):
                from streamdata import execution
                value = execution.fetch([value])[0]
            cache[i] = value
        return cache[i]

    head: list[dict[str, Any]] = []
    for i, (_, rows) in enumerate(blocks):
        if len(head) >= head_n:
            break
        if rows != 0:
            head += list(B.iter_rows(table(i).slice(0, head_n - len(head))))
    parts: list[list[dict[str, Any]]] = []
    missing = tail_n
    for i in reversed(range(len(blocks))):
        if missing <= 0:
            break
        t = table(i) if blocks[i][1] != 0 else None
        if t is None or t.num_rows == 0:
            continue
        part = list(B.iter_rows(t.slice(max(0, t.num_rows - missing))))
        parts.append(part)
        missing -= len(part)
    return head, [row for part in reversed(parts) for row in part]


def _cached_schema(ds: Any) -> pa.Schema | None:
    """A schema ``ds.schema()`` found by running the plan (remembered as Ray does)."""
    cached = getattr(ds, "_schema_cache", None)
    return getattr(cached, "base_schema", cached)


def describe(ds: Any, *, html_mode: bool = False) -> str:
    """``repr(ds)`` as Ray 2.60 prints it, without running the plan (``html_mode``: the
    same text for a notebook, in a ``<pre>``)."""
    try:
        text = _describe(ds)
    except Exception as e:  # noqa: BLE001 - display never fails
        text = f"{type(ds).__name__}(<repr failed: {type(e).__name__}: {e}>)"
    if html_mode:
        return f"<pre>{html.escape(text)}</pre>"
    return text


@dataclass
class _NamesTypes:
    """Column names and the type names to print for them."""

    names: list[str]
    types: list[str]


def _describe(ds: Any) -> str:
    plan = display_plan(ds._plan.root)
    materialized = _is_materialized(ds)
    seen = observed(ds)  # what a whole run saw wins over what the plan tells, as in Ray
    count = None if seen is None else seen.num_rows
    schema = None if seen is None else seen.schema
    schema = _cached_schema(ds) if schema is None else schema
    schema = plan.schema if schema is None else schema
    name = ds.name
    if schema is not None and len(schema.names) > 0:
        head: list[dict[str, Any]] = []
        tail: list[dict[str, Any]] = []
        if materialized:
            try:
                head, tail = _preview(ds, plan.num_rows)
            except Exception:  # noqa: BLE001 - blocks out of reach (runtime gone): no rows, as Ray
                head, tail = [], []
        num_rows = plan.num_rows if count is None else count
        return format_table(schema, num_rows=num_rows, name=name, materialized=materialized,
                            head=format_rows(head, schema.names), tail=format_rows(tail, schema.names))
    lines: list[tuple[int, str]] = []
    if not isinstance(ds._plan.root, InputData):
        dag_lines(plan, 0, lines)
    node = plan
    while not node.is_source and len(node.inputs) == 1:
        node = node.inputs[0]
    if node.is_source:  # no n-ary operator on the way: the source tells what is not known
        if schema is None and node.schema is not None and node.pandas_types is not None:
            schema = _NamesTypes(list(node.schema.names), node.pandas_types)
        schema = schema if schema is not None else node.schema
        count = node.num_rows if count is None else count
    num_blocks = None
    cls_name = type(ds).__name__
    if materialized:
        cls_name = "MaterializedDataset"
        num_blocks = sum(1 for block, rows in _blocks(ds._plan.root)
                         if rows or not isinstance(block, pa.Table) or block.num_columns)
    return format_summary(cls_name, num_rows=count, schema=schema, plan=lines, name=name,
                          num_blocks=num_blocks)


__all__ = ["check_seed", "describe", "validate_join_schemas"]
