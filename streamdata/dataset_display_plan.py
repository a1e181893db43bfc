"""The plan as Ray 2.60 shows it in ``repr(dataset)``: operator names, and the schema and row
count Ray knows for each operator's output without running anything.

Ray's rules, applied to streamdata's logical nodes (:func:`display_plan`):

* sources: ``range``/``range_tensor`` and the ``from_*`` data know their schema and rows;
  Parquet knows its schema (from the footers) but not its rows, and shows as Ray 2.60 plans
  it (``ReadFilesParquetV2`` over a file listing); images and binary files count one row per
  file; CSV, JSON, text, NumPy... know neither; an empty source has no schema;
* operators that keep their input's columns (``filter``, ``limit``, ``sort``,
  ``random_shuffle``, ``repartition``, ``randomize_block_order``) carry its schema; those
  whose output columns follow from their input's (``select_columns``, ``rename_columns``,
  ``drop_columns``, ``with_column``, ``groupby().count()/sum()/min()/max()/mean()/std()``,
  ``union``, ``zip``, ``join``) compute it; UDFs (``map``, ``map_batches``, ``flat_map``,
  ``add_column``, ``map_groups``, ``random_sample``) lose it;
* row counts pass through ``map``, projections, sorts, shuffles and repartitions, and
  ``limit(n)`` caps them; everything else makes them unknown.

May import: base modules, :mod:`streamdata.plan` (node types), :mod:`streamdata.io`
(datasource types) and :mod:`streamdata.aggregation` (aggregation types).

Example:
    >>> import streamdata as sd
    >>> d = display_plan(sd.range(10).map(lambda r: r).limit(3)._plan.root)
    >>> [d.name, d.inputs[0].name], d.schema, d.num_rows, d.inputs[0].inputs[0].num_rows
    (['limit=3', 'Map(<lambda>)'], None, 3, 10)
"""

from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.plan.logical import (
    Aggregate, AbstractMap, Filter, FlatMap, FusedMap, InputData, Join, Limit, LogicalNode,
    MapBatches, MapGroups, MapRows, Mix, Project, RandomizeBlockOrder, RandomSample,
    RandomShuffle, Read, Repartition, Sort, StreamingSplit, Union, WithColumn, Write, Zip,
)


@dataclass
class DisplayNode:
    """One operator of the plan as Ray 2.60 shows it: its name, what Ray knows of its
    output without running anything (``schema``, ``num_rows``), and whether it is a source
    (sources are not listed in the summary form)."""

    name: str
    inputs: list["DisplayNode"] = field(default_factory=list)
    schema: pa.Schema | None = None
    num_rows: int | None = None
    is_source: bool = False
    #: the source's pandas dtypes (``from_pandas``): Ray infers no Arrow schema from them
    pandas_types: list[str] | None = None


#: operators Ray lists by their class name alone
_PLAIN_NAMES = {Sort: "Sort", RandomShuffle: "RandomShuffle", Repartition: "Repartition",
                RandomizeBlockOrder: "RandomizeBlockOrder", Aggregate: "Aggregate", Join: "Join",
                Union: "Union", Zip: "Zip", Mix: "Mix", StreamingSplit: "StreamingSplit",
                Write: "Write"}
#: operators whose output has their input's columns (Ray's LogicalOperatorPreservesSchema)
_KEEP_COLUMNS = (Limit, Filter, Sort, RandomShuffle, Repartition, RandomizeBlockOrder,
                 StreamingSplit, Write)
#: operators whose output has their input's rows, in some order (Ray's infer_metadata)
_KEEP_ROWS = (MapRows, Project, WithColumn, Sort, RandomShuffle, Repartition, RandomizeBlockOrder)


def udf_name(fn: Any) -> str:
    """A UDF's name as Ray puts it in an operator's name.

    Example:
        >>> import functools
        >>> class Add:
        ...     def __call__(self, b): return b
        ...     def m(self, b): return b
        >>> [udf_name(f) for f in (lambda b: b, Add, Add(), Add().m, functools.partial(max, 1))]
        ['<lambda>', 'Add', 'Add', 'Add.m', 'max']
        >>> udf_name(len)
        'builtin_function_or_method'
    """
    try:
        if inspect.isclass(fn):
            return fn.__name__
        if inspect.ismethod(fn):
            return f"{type(fn.__self__).__name__}.{fn.__name__}"
        if inspect.isfunction(fn):
            return fn.__name__
        if isinstance(fn, functools.partial):
            return fn.func.__name__
        return type(fn).__name__  # any other callable (a builtin too): its class, as Ray
    except AttributeError:
        return "<unknown>"


def inline_expr(expr: Any) -> str:
    """An expression as Ray writes it in ``Filter(...)``: binary operands parenthesized only
    when they are binary operations themselves, no outer parentheses, literals cut to 20
    characters.

    Example:
        >>> from streamdata.expressions import col
        >>> inline_expr((col("id") > 3) & (col("id") < 8))
        "(col('id') > 3) & (col('id') < 8)"
        >>> inline_expr(~col("id").is_in([1, 2]))
        "~(col('id') in [1, 2])"
    """
    from streamdata.expressions.core import (
        _BINARY_SYMBOLS, AliasExpr, BinaryExpr, ColumnExpr, IsInExpr, LiteralExpr, UnaryExpr,
    )

    def binary(left: Any, symbol: str, right: Any) -> str:
        sides = [inline_expr(e) for e in (left, right)]
        sides = [f"({s})" if isinstance(e, (BinaryExpr, IsInExpr)) else s
                 for s, e in zip(sides, (left, right))]
        return f"{sides[0]} {symbol} {sides[1]}"

    if isinstance(expr, ColumnExpr):
        return f"col({expr.name!r})"
    if isinstance(expr, LiteralExpr):
        text = repr(list(expr.value) if isinstance(expr.value, tuple) else expr.value)
        return text if len(text) <= 20 else text[:17] + "..."
    if isinstance(expr, BinaryExpr):
        return binary(expr.left, _BINARY_SYMBOLS.get(expr.op, {"not_in": "not in"}.get(expr.op, expr.op)),
                      expr.right)
    if isinstance(expr, IsInExpr):
        return binary(expr.operand, "not in" if expr.negated else "in", LiteralExpr(value=list(expr.values)))
    if isinstance(expr, UnaryExpr):
        inner = inline_expr(expr.operand)
        inner = f"({inner})" if isinstance(expr.operand, (BinaryExpr, IsInExpr)) else inner
        return {"not": f"~{inner}", "is_null": f"{inner}.is_null()",
                "is_not_null": f"{inner}.is_not_null()"}.get(expr.op, f"{expr.op}({inner})")
    if isinstance(expr, AliasExpr):
        return f"{inline_expr(expr.expr)}.alias({expr.name!r})"
    text = expr.compact()
    return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _map_name(node: AbstractMap, input_schema: pa.Schema | None) -> str:
    """The name Ray gives the operator of a map-like node."""
    if isinstance(node, FusedMap):
        return "->".join(_map_name(s, None) for s in node.stages)
    if isinstance(node, MapBatches):
        if node.label and node.label.startswith("AddColumn("):
            return "MapBatches(add_column)"
        prep = getattr(node.fn, "prep", None)  # Preprocessor.transform's UDF holds its preprocessor
        if prep is not None and hasattr(prep, "fit_status"):
            return type(prep).__name__  # Ray names the operator after the preprocessor's class
        return node.label or f"MapBatches({udf_name(node.fn)})"
    if isinstance(node, MapRows):
        return node.label or f"Map({udf_name(node.fn)})"
    if isinstance(node, FlatMap):
        return node.label or f"FlatMap({udf_name(node.fn)})"
    if isinstance(node, Filter):
        if node.expr is not None:
            text = inline_expr(node.expr)
            return f"Filter({text[:57] + '...' if len(text) > 60 else text})"
        return f"Filter({udf_name(node.fn)})"
    if isinstance(node, Project):
        only_drop = node.select is None and not node.rename and node.drop
        return "MapBatches(drop_columns)" if only_drop and input_schema is None else "Project"
    if isinstance(node, WithColumn):
        return "Project"
    if isinstance(node, RandomSample):
        return "MapBatches(random_sample)"
    return node.name


def _is(source: Any, module: str, cls: str) -> bool:
    """``isinstance(source, streamdata.io.<module>.<cls>)``, without importing the module
    (an instance of the class means it is loaded)."""
    loaded = sys.modules.get(f"streamdata.io.{module}")
    return loaded is not None and isinstance(source, getattr(loaded, cls))


def _source(node: LogicalNode) -> DisplayNode:
    """A Read or InputData as Ray's source operator (Parquet: ``ReadFilesParquetV2`` over
    Ray's file listing, as Ray 2.60 plans it)."""
    if isinstance(node, InputData):
        rows = node.num_rows(lambda n: None)
        schema = None if rows == 0 else node.schema
        return DisplayNode(node.name, schema=schema, num_rows=rows, is_source=True)
    if not isinstance(node, Read):
        return DisplayNode(node.name, is_source=True)
    source = node.datasource
    try:
        schema = source.schema()
    except Exception:  # noqa: BLE001 - display never fails
        schema = None
    if _is(source, "parquet", "ParquetDatasource"):
        listing = DisplayNode("ListFiles", is_source=True, schema=pa.schema(
            [("__path", pa.string()), ("__file_size", pa.int64())]))
        read = DisplayNode("ReadFilesParquetV2", [listing], schema=schema)
        if getattr(source, "_columns", None) is not None:  # read_parquet(columns=...): a Project
            return DisplayNode("Project", [read], schema=schema)
        return read
    try:
        if _is(source, "images", "ImageDatasource") or _is(source, "binary", "BinaryDatasource"):
            rows = len(source.input_files())  # one row per file: Ray counts the files
        elif _is(source, "file_datasource", "FileBasedDatasource"):
            rows = None  # Ray does not count a file's rows before reading it
        else:
            rows = node.num_rows(lambda n: None, cheap=True)
    except Exception:  # noqa: BLE001
        rows = None
    out = DisplayNode(node.name, schema=None if rows == 0 else schema, num_rows=rows,
                      is_source=True)
    if source.name == "FromPandas" and out.schema is not None:
        kept = getattr(source, "pandas_dtypes", None)  # the frame's own, as Ray prints them
        out.pandas_types = kept if kept is not None and len(kept) == len(out.schema) else _pandas_dtypes(out.schema)
    return out


def _pandas_dtypes(schema: pa.Schema) -> list[str] | None:
    """The pandas dtypes of a ``from_pandas`` source (Ray keeps pandas blocks, and prints
    their dtypes in the summary form)."""
    try:
        return [str(t) for t in schema.empty_table().to_pandas().dtypes]
    except Exception:  # noqa: BLE001
        return None


def _aggregate_schema(node: Aggregate, schema: pa.Schema | None) -> pa.Schema | None:
    """Keys then one field per aggregation, when Ray can tell every output type."""
    from streamdata.aggregation.builtins import AbsMax, Count, Max, Mean, Min, Std, Sum

    if schema is None or not node.aggs:
        return None
    try:
        fields = [schema.field(k) for k in node.keys]
        for agg in node.aggs:
            if isinstance(agg, Count):
                fields.append(pa.field(agg.name, pa.int64(), nullable=False))
            elif isinstance(agg, (Mean, Std)):
                fields.append(pa.field(agg.name, pa.float64()))
            elif isinstance(agg, (Sum, Min, Max, AbsMax)) and agg.on is not None:
                kernel = {Sum: pc.sum, Min: pc.min, Max: pc.max}.get(type(agg), lambda a: pc.max(pc.abs(a)))
                empty = pa.array([], type=schema.field(agg.on).type)
                fields.append(pa.field(agg.name, kernel(empty).type))
            else:
                return None
        return pa.schema(fields)
    except (KeyError, pa.ArrowException):
        return None


def _join_schema(node: Join, left: pa.Schema | None, right: pa.Schema | None) -> pa.Schema | None:
    if left is None or right is None:
        return None
    try:
        joined = left.empty_table().join(
            right.empty_table(), keys=list(node.on), right_keys=list(node.right_on or node.on),
            join_type=node.join_type.replace("_", " "), left_suffix=node.left_suffix,
            right_suffix=node.right_suffix, coalesce_keys=True)
        return joined.schema
    except (pa.ArrowException, ValueError, TypeError):
        return None


def _with_column_schema(node: WithColumn, schema: pa.Schema | None) -> pa.Schema | None:
    from streamdata.plan.map_nodes import arrow_expressions_only

    if schema is None or not arrow_expressions_only(node):
        return None
    try:
        value = node.expr.evaluate(schema.empty_table())
    except Exception:  # noqa: BLE001 - Ray leaves what it cannot resolve unknown
        return None
    out = pa.field(node.column, value.type)
    fields = [out if f.name == node.column else f for f in schema]
    return pa.schema(fields if node.column in schema.names else fields + [out])


def _unify(schemas: list[pa.Schema | None]) -> pa.Schema | None:
    from streamdata.block_concat import unify_schemas

    if any(s is None for s in schemas):
        return None
    try:
        return unify_schemas(schemas)  # type: ignore[arg-type]  # as the blocks will concatenate
    except pa.ArrowException:
        return None


def display_plan(root: LogicalNode) -> DisplayNode:
    """The plan under ``root`` as Ray 2.60 shows it, with what Ray knows without running
    (a node shared by several consumers is visited once)."""
    memo: dict[int, DisplayNode] = {}

    def visit(node: LogicalNode) -> DisplayNode:
        if id(node) not in memo:
            memo[id(node)] = _display(node, [visit(i) for i in node.inputs])
        return memo[id(node)]

    return visit(root)


def _display(node: LogicalNode, inputs: list[DisplayNode]) -> DisplayNode:
    if not node.inputs:
        return _source(node)
    out = _operator(node, inputs)
    if isinstance(node, _KEEP_COLUMNS) and out.schema is not None:
        out.pandas_types = inputs[0].pandas_types
    elif any(i.pandas_types is not None for i in inputs):
        out.schema = None  # Ray resolves output columns from Arrow schemas only
    return out


def _operator(node: LogicalNode, inputs: list[DisplayNode]) -> DisplayNode:
    schema = inputs[0].schema
    rows = inputs[0].num_rows if isinstance(node, _KEEP_ROWS) else None
    if isinstance(node, MapGroups):  # Ray: map_batches over a hash repartition
        shuffled = DisplayNode("Repartition", inputs, schema=schema, num_rows=inputs[0].num_rows)
        return DisplayNode(f"MapBatches({udf_name(node.fn)})", [shuffled])
    if isinstance(node, Limit):
        rows = None if inputs[0].num_rows is None else min(inputs[0].num_rows, node.limit)
        return DisplayNode(f"limit={node.limit}", inputs, schema=schema, num_rows=rows)
    if isinstance(node, AbstractMap):
        name = _map_name(node, schema)
        if isinstance(node, Filter):
            out = schema
        elif isinstance(node, Project):
            out = node.infer_schema([schema]) if schema is not None else None
        elif isinstance(node, WithColumn):
            out = _with_column_schema(node, schema)
        else:
            out = None
        return DisplayNode(name, inputs, schema=out, num_rows=rows)
    schemas = [i.schema for i in inputs]
    if isinstance(node, _KEEP_COLUMNS):
        out = schema
    elif isinstance(node, Aggregate):
        out = _aggregate_schema(node, schema)
    elif isinstance(node, (Union, Mix)):
        out = _unify(schemas)
    elif isinstance(node, Zip):
        out = node.infer_schema(schemas)  # Ray's names: id, id_1, id_2
    elif isinstance(node, Join):
        out = _join_schema(node, schemas[0], schemas[1])
    else:
        out = None
    return DisplayNode(_PLAIN_NAMES.get(type(node), node.name), inputs, schema=out, num_rows=rows)


def dag_lines(node: DisplayNode, depth: int, out: list[tuple[int, str]]) -> None:
    """Ray's depth-first listing of the operators, sources left out."""
    if node.is_source:
        return
    out.append((depth, node.name))
    for i in node.inputs:
        dag_lines(i, depth + 1, out)


__all__ = ["DisplayNode", "dag_lines", "display_plan", "inline_expr", "udf_name"]
