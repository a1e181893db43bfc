"""``DataContext``: the data knobs, each with its default, and the one place
where environment variables are read.

Every field of Ray Data's ``DataContext`` exists here with Ray's default; those that
mean nothing on one machine are listed, with the reason, in
:mod:`streamdata.context_fields` (accepted and ignored).

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

from streamdata.context_fields import AcceptedFields
from streamdata.context_options import ExecutionOptions


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
class DataContext(AcceptedFields):  # type: ignore[misc,valid-type]
    """Knobs of the Dataset engine. Get the live one with :meth:`get_current`.

    The attributes below are honoured; Ray's other fields are accepted and ignored
    (:mod:`streamdata.context_fields` lists them and says why).

    Attributes:
        target_max_block_size: blocks larger than this (bytes) are split. Default 128 MiB.
        target_min_block_size: reads aim for blocks at least this large. Default 1 MiB.
        read_op_min_num_blocks: reads produce at least this many blocks when the data allows.
            Default 2 × the CPUs.
        execution_object_store_share: share of the object store the executor may fill with
            blocks in flight. Default 0.5.
        execution_memory_limit: explicit executor memory budget in bytes (overrides the share).
        enable_progress_bars: show the progress line (every operator's rows on one line that
            never mixes with the program's output; erased on success, red on failure).
            Default: only on a terminal or notebook (``STREAMDATA_PROGRESS_BARS`` overrides).
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
        execution_options: Ray's :class:`~streamdata.context_options.ExecutionOptions`:
            ``resource_limits`` caps the CPUs/GPUs/object-store bytes of every execution,
            ``exclude_resources`` sets some aside, ``preserve_order=True`` forces ordered
            outputs (also when ``preserve_order`` above is False).
        log_internal_stack_trace: log the full traceback of a failed execution (the
            engine's frames too) at ERROR level. Default False.
        max_tasks_in_flight_per_actor: calls queued on one pool actor; overrides
            ``actor_max_tasks_in_flight`` when set (Ray's name). Default None.
        enable_auto_log_stats: log ``stats()`` at INFO level after each execution.
            Default False.
        enable_stats_summary_collection: keep the stats of every finished execution for
            ``sd.list_stats_summaries()``. Default False.
        driver_reads_small_data: a plan that is only a small Parquet read, with column
            expressions (``with_column``, ``filter(expr=...)``, ``select_columns``) or a
            built-in aggregation (``groupby(k).sum(c)``, ``aggregate(Count())``) after
            it, whose output this process consumes (``iter_batches``, ``to_arrow``, ``to_pandas``,
            ``take``, ...), runs on this process's threads instead of worker processes (no
            copy through shared memory, no wait for the workers to start); so does a join of
            two such reads, with or without a built-in aggregation after it. Default True.
        scheduling_strategy: where the Data tasks and actors run when their own options say
            nothing: a strategy object such as ``PlacementGroupSchedulingStrategy(pg)`` runs
            the whole pipeline inside a placement group that a trainer or tuner holds (as in
            Ray); Ray's strings (``"SPREAD"``, ``"DEFAULT"``) change nothing on one machine.
            Default ``"SPREAD"``.
        enable_arrow_backed_pandas_conversion: pandas batches and ``to_pandas()`` get
            Arrow-backed columns (``pd.ArrowDtype``: ``int64[pyarrow]``, ``string[pyarrow]``;
            an int column with nulls stays int), as Ray 2.60's default. Default False: NumPy
            dtypes (Ray's pre-2.56 conversion), under which the UDFs written for either run
            (Arrow-backed columns lack ``%`` and multi-dimensional cells).
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
    execution_options: ExecutionOptions = field(default_factory=ExecutionOptions)
    log_internal_stack_trace: bool = False
    max_tasks_in_flight_per_actor: int | None = None
    enable_auto_log_stats: bool = False
    enable_stats_summary_collection: bool = False
    driver_reads_small_data: bool = True
    scheduling_strategy: Any = "SPREAD"
    enable_arrow_backed_pandas_conversion: bool = False
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

    @classmethod
    def current(cls) -> "DataContext":
        """The process-wide context (Ray's alias of :meth:`get_current`)."""
        return cls.get_current()

    def copy(self) -> "DataContext":
        return copy.deepcopy(self)

    def set_config(self, key: str, value: Any) -> None:
        """Keep a free-form setting (Ray's plugin settings)."""
        self.extra[key] = value

    def get_config(self, key: str, default: Any = None) -> Any:
        """A free-form setting, or ``default``."""
        return self.extra.get(key, default)

    def remove_config(self, key: str) -> None:
        """Forget a free-form setting."""
        self.extra.pop(key, None)

    def set_dataset_logger_id(self, dataset_id: str) -> None:
        """Ray's logging hook (kept, no effect)."""
        self.dataset_logger_id = dataset_id

    def effective_preserve_order(self) -> bool:
        """Whether outputs must keep their input order (either switch asks for it)."""
        opts = self.execution_options
        return bool(self.preserve_order or getattr(opts, "preserve_order", False))

    def effective_max_tasks_in_flight_per_actor(self) -> int:
        """Calls queued on one pool actor (Ray's field wins when set)."""
        return int(self.max_tasks_in_flight_per_actor or self.actor_max_tasks_in_flight)

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


#: Ray Data's older name of the context (``ray.data.context.DatasetContext``)
DatasetContext = DataContext
