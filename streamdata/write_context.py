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
