"""Execution statistics: per operator wall time, CPU time, tasks, blocks, rows, bytes and
peak object-store use, with a printable summary.

Example:
    >>> s = ExecutionStats(operators=[OperatorStats(name="ReadRange", wall_s=1.5, cpu_s=2.0, tasks=4,
    ...                    blocks_out=4, rows_out=1000, bytes_out=8000, peak_bytes=4000)],
    ...                    wall_s=1.6, peak_object_store_bytes=8000, budget_bytes=10**6)
    >>> print(s.summary().splitlines()[1])
    Operator 1 ReadRange: 4 tasks, 4 blocks, 1,000 rows, 7.8 KiB out; wall 1.50 s, CPU 2.00 s; peak 3.9 KiB in flight
"""

from __future__ import annotations

from dataclasses import dataclass, field


def format_bytes(n: float) -> str:
    """A byte count for humans.

    Example:
        >>> format_bytes(1536), format_bytes(3 * 1024 ** 3)
        ('1.5 KiB', '3.0 GiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@dataclass(slots=True)
class OperatorStats:
    """What one operator did in one execution."""

    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    tasks: int = 0
    blocks_out: int = 0
    rows_out: int = 0
    bytes_out: int = 0
    peak_bytes: float = 0.0
    errored_blocks: list[str] = field(default_factory=list)
    extra: str = ""

    def line(self, index: int) -> str:
        text = (f"Operator {index} {self.name}: {self.tasks} tasks, {self.blocks_out} blocks, "
                f"{self.rows_out:,} rows, {format_bytes(self.bytes_out)} out; "
                f"wall {self.wall_s:.2f} s, CPU {self.cpu_s:.2f} s; "
                f"peak {format_bytes(self.peak_bytes)} in flight")
        if self.errored_blocks:
            text += f"; skipped {len(self.errored_blocks)} failed block(s)"
        if self.extra:
            text += f"; {self.extra}"
        return text


@dataclass(slots=True)
class ExecutionStats:
    """Statistics of one execution (``Dataset.stats()`` prints :meth:`summary`)."""

    operators: list[OperatorStats] = field(default_factory=list)
    wall_s: float = 0.0
    peak_object_store_bytes: float = 0.0
    budget_bytes: float = 0.0
    finished: bool = False

    def summary(self) -> str:
        """A few lines: one per operator, then the totals."""
        lines = ["Execution stats" + ("" if self.finished else " (running or stopped early)")]
        for i, op in enumerate(self.operators, start=1):
            lines.append(op.line(i))
        lines.append(f"Total: wall {self.wall_s:.2f} s; peak object store "
                     f"{format_bytes(self.peak_object_store_bytes)} (executor budget "
                     f"{format_bytes(self.budget_bytes)})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def operator(self, name_prefix: str) -> OperatorStats:
        """The first operator whose name starts with ``name_prefix`` (KeyError if none)."""
        for op in self.operators:
            if op.name.startswith(name_prefix):
                return op
        raise KeyError(f"no operator named {name_prefix!r}; have {[o.name for o in self.operators]}")
