"""The text of ``repr(dataset)``, as Ray 2.60 prints it: pure formatting functions.

Two forms (:mod:`streamdata.dataset_display` chooses one and gathers what they show):

* a **table** when the schema is known without running anything: a ``shape: (rows, columns)``
  line, a box with the column names and types, then ``(Dataset isn't materialized)``, or,
  for a materialized dataset, its first and last rows and ``(Showing 10 of 150 rows)``
  (:func:`format_table`);
* a **summary** otherwise: the plan's operators (sources left out), one per line, above a
  ``Dataset(num_rows=..., schema={...})`` line describing the source
  (:func:`format_summary`).

A base module (imports only :mod:`streamdata.schema`).

Example:
    >>> import pyarrow as pa
    >>> print(format_table(pa.schema([("id", pa.int64())]), num_rows=1000))
    shape: (1000, 1)
    ╭───────╮
    │ id    │
    │ ---   │
    │ int64 │
    ╰───────╯
    (Dataset isn't materialized)
    >>> print(format_summary("Dataset", num_rows=1000, schema=pa.schema([("id", pa.int64())]),
    ...                      plan=[(0, "MapBatches(<lambda>)")]))
    MapBatches(<lambda>)
    +- Dataset(num_rows=1000, schema={id: int64})
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from streamdata.schema import format_type

ELLIPSIS = "…"  # marks a cut cell and the gap between the first and the last rows
MAX_ROWS = 10  # rows a materialized dataset shows at most
HEAD_ROWS = 5  # of which first rows, when there are more than MAX_ROWS
MAX_COLUMN_WIDTH = 40  # characters of a cell (names and types included)
LINE_LIMIT = 80  # the summary's one-line form fits in this many characters
MIN_FIELD_LENGTH = 10  # characters of a long column name the summary keeps at least
INDENT = " " * 3


def preview_targets(num_rows: int | None) -> tuple[int, int]:
    """How many first and last rows a materialized dataset of ``num_rows`` rows shows.

    Example:
        >>> preview_targets(7), preview_targets(150), preview_targets(None)
        ((7, 0), (5, 5), (10, 0))
    """
    if num_rows is None or num_rows <= MAX_ROWS:
        return (MAX_ROWS if num_rows is None else num_rows), 0
    return HEAD_ROWS, MAX_ROWS - HEAD_ROWS


def truncate(value: str, width: int = MAX_COLUMN_WIDTH) -> str:
    """``value`` cut to ``width`` characters, the last one an ellipsis when cut.

    Example:
        >>> truncate("abcdef", 4), truncate("abc", 4)
        ('abc…', 'abc')
    """
    if len(value) <= width:
        return value
    return value[: width - 1] + ELLIPSIS if width > 1 else ELLIPSIS


def format_value(value: Any) -> str:
    """One cell: ``str`` of the value (NumPy scalars as Python's), on one line.

    Example:
        >>> format_value(np.int64(3)), format_value(np.ones((2, 2))), format_value("a\\nb")
        ('3', '[[1. 1.]  [1. 1.]]', 'a b')
    """
    if isinstance(value, np.generic):
        value = value.item()
    return str(value).replace("\n", " ").replace("\r", " ")


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    """Rows (dicts) as lists of cells, in ``columns`` order.

    Example:
        >>> format_rows([{"a": 1, "b": None}], ["a", "b"])
        [['1', 'None']]
    """
    return [[truncate(format_value(row.get(c))) for c in columns] for row in rows]


def _border(left: str, middle: str, right: str, fill: str, widths: Sequence[int]) -> str:
    return left + middle.join(fill * (w + 2) for w in widths) + right


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "│" + "┆".join(f" {c.ljust(w)} " for c, w in zip(cells, widths)) + "│"


def format_table(schema: Any, *, num_rows: int | None, name: str | None = None,
                 materialized: bool = False, head: Sequence[Sequence[str]] = (),
                 tail: Sequence[Sequence[str]] = ()) -> str:
    """The table form: shape, a box of names, ``---`` and types, the ``head`` and ``tail``
    rows (cells from :func:`format_rows`) with an ellipsis row between them, and a summary
    line. ``schema`` has ``names`` and ``types`` (a ``pyarrow.Schema`` or a Schema).

    Example:
        >>> import pyarrow as pa
        >>> print(format_table(pa.schema([("a", pa.int64()), ("b", pa.string())]), num_rows=12,
        ...                    materialized=True, head=[["0", "x"]], tail=[["11", "y"]]))
        shape: (12, 2)
        ╭───────┬────────╮
        │ a     ┆ b      │
        │ ---   ┆ ---    │
        │ int64 ┆ string │
        ╞═══════╪════════╡
        │ 0     ┆ x      │
        │ …     ┆ …      │
        │ 11    ┆ y      │
        ╰───────┴────────╯
        (Showing 2 of 12 rows)
    """
    columns = list(schema.names)
    names = [truncate(str(c)) for c in columns]
    types = [truncate(format_type(t)) for t in schema.types]
    rows = [list(r) for r in head]
    if head and tail:
        rows.append([ELLIPSIS] * len(columns))
    rows += [list(r) for r in tail]
    widths = [max([len(names[i]), len(types[i]), 3] + [len(r[i]) for r in rows])
              for i in range(len(columns))]
    lines = [_border("╭", "┬", "╮", "─", widths), _row(names, widths),
             _row(["---"] * len(columns), widths), _row(types, widths)]
    if rows:
        lines.append(_border("╞", "╪", "╡", "═", widths))
        lines += [_row(r, widths) for r in rows]
    lines.append(_border("╰", "┴", "╯", "─", widths))
    shown = len(head) + len(tail)
    total = "?" if num_rows is None else num_rows
    summary = f"(Showing {shown} of {total} rows)" if materialized else "(Dataset isn't materialized)"
    out = [] if name is None else [f"name: {name}"]
    out += [f"shape: ({total}, {len(columns)})", *lines, summary]
    return "\n".join(out)


def format_plan(plan: Sequence[tuple[int, str]]) -> str:
    """Operators as a tree, one per line: ``(depth, name)`` pairs in depth-first order.

    Example:
        >>> print(format_plan([(0, "limit=2"), (1, "MapBatches(f)"), (2, "Map(g)")]), end="")
        limit=2
        +- MapBatches(f)
           +- Map(g)
    """
    return "".join((f"{name}\n" if depth == 0 else f"{INDENT * (depth - 1)}+- {name}\n")
                   for depth, name in plan)


def _field_strings(schema: Any) -> list[tuple[str, str]]:
    return [(str(n), format_type(t)) for n, t in zip(schema.names, schema.types)]


def format_summary(cls_name: str, *, num_rows: int | None, schema: Any,
                   plan: Sequence[tuple[int, str]] = (), name: str | None = None,
                   num_blocks: int | None = None) -> str:
    """The summary form: the ``plan`` (:func:`format_plan`; sources left out) above
    ``cls_name(num_rows=..., schema={...})``, broken over lines when longer than 80
    characters (each field on its own line when the schema alone is too long).

    Example:
        >>> import pyarrow as pa
        >>> print(format_summary("Dataset", num_rows=None, schema=None))
        Dataset(num_rows=?, schema=Unknown schema)
        >>> wide = pa.schema([(f"col_{i}", pa.float64()) for i in range(6)])
        >>> print(format_summary("Dataset", num_rows=1, schema=wide, plan=[(0, "Map(f)")]))
        Map(f)
        +- Dataset(
              num_rows=1,
              schema={
                 col_0: double,
                 col_1: double,
                 col_2: double,
                 col_3: double,
                 col_4: double,
                 col_5: double
              }
           )
    """
    depth = max((d + 1 for d, _ in plan), default=0)
    pad = INDENT * depth
    fields = None if schema is None else _field_strings(schema)
    schema_str = "Unknown schema" if fields is None else \
        "{" + ", ".join(f"{n}: {t}" for n, t in fields) + "}"
    count = "?" if num_rows is None else num_rows
    name_str = "" if name is None else f"name={name}, "
    blocks_str = f"num_blocks={num_blocks}, " if num_blocks else ""
    text = f"{cls_name}({name_str}{blocks_str}num_rows={count}, schema={schema_str})"
    if len(text) > LINE_LIMIT:
        if fields is not None and len(f"{pad}{INDENT}schema={schema_str}") > LINE_LIMIT:
            lines = []
            for n, t in fields:
                line = f"{pad}{INDENT * 2}{n}: {t}"
                if len(line) > LINE_LIMIT:
                    suffix = f"...: {t}"
                    line = line[:max(LINE_LIMIT - len(suffix), MIN_FIELD_LENGTH)] + suffix
                lines.append(line)
            schema_str = "{\n" + ",\n".join(lines) + f"\n{pad}{INDENT}}}"
        text = (f"{cls_name}("
                + ("" if name is None else f"\n{pad}{INDENT}name={name},")
                + (f"\n{pad}{INDENT}num_blocks={num_blocks}," if num_blocks else "")
                + f"\n{pad}{INDENT}num_rows={count},\n{pad}{INDENT}schema={schema_str}\n{pad})")
    if depth == 0:
        return format_plan(plan) + text
    return format_plan(plan) + f"{INDENT * (depth - 1)}+- {text}"


__all__ = [
    "ELLIPSIS", "MAX_ROWS", "format_plan", "format_rows", "format_summary", "format_table",
    "format_value", "preview_targets", "truncate",
]
