"""Writing: run a plan whose root is a ``Write`` and drive the datasink's commit protocol.

``on_write_start`` before anything runs; ``on_write_complete`` with every write task's
result once all succeeded; ``on_write_failed`` with the error otherwise (then the
error is raised again).

Example:
    >>> from streamdata.io.datasink import Datasink
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read, Write
    >>> class Rows(Datasink):
    ...     def write(self, blocks, ctx):
    ...         return sum(b.num_rows for b in blocks)
    ...     def on_write_complete(self, results):
    ...         print(sum(results))
    >>> sink = Rows()
    >>> write(LogicalPlan(Write(inputs=(Read(datasource=RangeDatasource(6)),), datasink=sink)))
    6
"""

from __future__ import annotations

from typing import Any

from streamdata import block as B
from streamdata.errors import PlanError
from streamdata.exec.operators.map_transformer import WriteStage
from streamdata.execution.runner import StatsRecord, iter_tables, iterate
from streamdata.plan.io_nodes import Write
from streamdata.plan.logical import LogicalPlan


def write(logical_plan: LogicalPlan, *, record: StatsRecord | None = None) -> None:
    """Run ``logical_plan`` (its root a :class:`~streamdata.plan.logical.Write`) and commit.

    Raises:
        PlanError: the plan's root is not a Write.
        Exception: whatever a write task (or the sink's commit) raised, after
            ``on_write_failed`` saw it.
    """
    root = logical_plan.root
    if not isinstance(root, Write):
        raise PlanError(f"execution.write needs a plan ending in a Write, got {root.name}")
    datasink = root.datasink
    datasink.on_write_start()
    try:
        results: list[Any] = []
        for table in iter_tables(iterate(logical_plan, record=record)):
            results.extend(row[WriteStage.RESULT_COLUMN] for row in B.iter_rows(table))
    except BaseException as exc:
        datasink.on_write_failed(exc)
        raise
    from streamdata.io.datasink import WriteResult  # a list with Ray's attributes (write_returns, ...)

    datasink.on_write_complete(WriteResult(results))


__all__ = ["write"]
