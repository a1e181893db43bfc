"""Identity of one write task (a base type): unique file names derive from it.

Example:
    >>> WriteContext(write_uuid="abc", task_index=3).task_index
    3
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Identifies one write task: unique file names derive from it."""

    write_uuid: str
    task_index: int

    @property
    def task_idx(self) -> int:
        """Ray's name of :attr:`task_index` (``TaskContext.task_idx``), for connectors written for Ray."""
        return self.task_index
