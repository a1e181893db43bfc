"""``DataContext``: the data knobs, each with its default, and the one place
where environment variables are read.

Example:
    >>> import streamdata as sd
    >>> ctx = sd.DataContext.get_current()
    >>> ctx.target_max_block_size
    134217728
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar


def env_str(name: str, default: str | None = None) -> str | None:
    """Read an environment variable (the only function that does)."""
    return os.environ.get(name, default)


def env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not a number") from exc


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class DataContext:
    """Knobs of the Dataset engine. Get the live one with :meth:`get_current`.

    Attributes:
        target_max_block_size: blocks larger than this (bytes) are split. Default 128 MiB.
        target_min_block_size: reads aim for blocks at least this large. Default 1 MiB.
        read_op_min_num_blocks: reads produce at least this many blocks when the data allows.
            Default 2 × the CPUs.
        execution_object_store_share: share of the object store the executor may fill with
            blocks in flight. Default 0.5.
        execution_memory_limit: explicit executor memory budget in bytes (overrides the share).
        enable_progress_bars: show one tqdm bar per operator. Default: only on a terminal or
            notebook (``STREAMDATA_PROGRESS_BARS`` overrides).
        max_errored_blocks: blocks that may fail to read or transform before the job fails;
            skipped blocks are named in a warning. Default 0; -1 means no limit.
        actor_max_tasks_in_flight: calls queued on one actor of an actor pool. Default 4.
        default_batch_size: ``map_batches`` batch size when ``batch_size`` is not given:
            None means one whole block per call.
        shuffle_num_partitions: partitions of all-to-all operations; None chooses from size.
        eager_free: free intermediate blocks as soon as they are consumed. Default True.
        preserve_order: operators emit blocks in the order of their inputs (deterministic
            output order, e.g. for ``take_all``); False lets a block that finishes early
            overtake slower ones. Default True.
        verbose_stats_logs: print ``stats()`` after each execution. Default False.
    """

    target_max_block_size: int = 128 * 1024 * 1024
    target_min_block_size: int = 1 * 1024 * 1024
    read_op_min_num_blocks: int | None = None
    execution_object_store_share: float = 0.5
    execution_memory_limit: int | None = None
    enable_progress_bars: bool | None = field(
        default_factory=lambda: (None if env_str("STREAMDATA_PROGRESS_BARS") is None
                                 else env_bool("STREAMDATA_PROGRESS_BARS", True)))
    max_errored_blocks: int = 0
    actor_max_tasks_in_flight: int = 4
    default_batch_size: int | None = None
    shuffle_num_partitions: int | None = None
    eager_free: bool = True
    preserve_order: bool = True
    verbose_stats_logs: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _current: ClassVar["DataContext | None"] = None

    @classmethod
    def get_current(cls) -> "DataContext":
        """The process-wide context (created on first use)."""
        with cls._lock:
            if cls._current is None:
                cls._current = DataContext()
            return cls._current

    @classmethod
    def _set_current(cls, ctx: "DataContext") -> None:
        """Install ``ctx`` (workers receive the driver's context this way)."""
        with cls._lock:
            cls._current = ctx

    def copy(self) -> "DataContext":
        return copy.deepcopy(self)

    def progress_bars_enabled(self) -> bool:
        """Whether to draw progress bars: the explicit setting, else only on a TTY/notebook."""
        if self.enable_progress_bars is not None:
            return self.enable_progress_bars
        import sys
        if "ipykernel" in sys.modules:
            return True
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
