"""Where a Dataset keeps the stats of its last execution (light: a Dataset is built
without importing the executor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamdata.exec.stats import ExecutionStats


class StatsRecord:
    """Where the stats of the last execution of a plan are kept.

    Example:
        >>> r = StatsRecord()
        >>> r.last is None, str(r)
        (True, 'this dataset has not run yet')
    """

    __slots__ = ("last",)

    def __init__(self, last: ExecutionStats | None = None) -> None:
        self.last = last

    def __str__(self) -> str:
        return "this dataset has not run yet" if self.last is None else str(self.last)

    def __getstate__(self) -> Any:
        return self.last

    def __setstate__(self, state: Any) -> None:
        self.last = state
