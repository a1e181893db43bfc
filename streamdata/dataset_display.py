"""Display and small checks of the Dataset facade: ``repr``/``_repr_html_`` text
(without running anything heavy), seed checks, and ``join(validate_schemas=True)``.

May import: base modules only (a Dataset is passed in).

Example:
    >>> check_seed("random_shuffle", 3)
    >>> check_seed("random_shuffle", "x")
    Traceback (most recent call last):
    ...
    streamdata.errors.PlanError: random_shuffle seed must be an int or None, got 'x'
"""

from __future__ import annotations

import html
from typing import Any, Sequence

from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError


def check_seed(what: str, seed: Any) -> None:
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


def describe(ds: Any, *, html_mode: bool) -> str:
    """``Dataset(plan, schema)`` without running anything heavy."""
    kind = type(ds).__name__
    try:
        schema = ds._plan.schema()
    except Exception:  # noqa: BLE001 - display never fails
        schema = None
    count = None
    try:
        count = ds._plan.num_rows(cheap=True)
    except Exception:  # noqa: BLE001
        pass
    cols = "unknown (runs the plan)" if schema is None else \
        "{" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "}"
    rows = "?" if count is None else str(count)
    if not html_mode:
        plan = "\n".join("   " + line for line in ds._plan.explain().splitlines())
        return f"{kind}(num_rows={rows}, schema={cols})\n{plan}"
    plan = html.escape(ds._plan.explain())
    fields = "".join(f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(str(f.type))}</td></tr>"
                     for f in (schema or []))
    table = (f"<table><tr><th>column</th><th>type</th></tr>{fields}</table>" if schema is not None
             else f"<p>schema: {html.escape(cols)}</p>")
    return (f"<div><b>{kind}</b> (num_rows={rows})<pre>{plan}</pre>{table}"
            f"{_preview_html(ds) if kind == 'MaterializedDataset' else ''}</div>")


def _preview_html(ds: Any, rows: int = 5) -> str:
    """The first rows of a materialized dataset (its blocks are already computed)."""
    try:
        import pandas as pd

        frame = pd.DataFrame(ds.take(rows))
    except Exception:  # noqa: BLE001 - display never fails
        return ""
    return f"<p>first {len(frame)} rows:</p>" + frame.to_html(index=False, max_cols=20)


__all__ = ["check_seed", "describe", "validate_join_schemas"]
