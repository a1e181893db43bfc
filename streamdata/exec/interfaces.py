"""The contract between physical operators and the streaming executor.

A physical operator turns a stream of :class:`RefBundle` s (groups of blocks held
in the object store, with their metadata) into another stream of RefBundles. It
never sees logical plan nodes, and the executor never looks inside it beyond the
methods below.

Call protocol (the executor is the only caller, from one long-lived driver thread):

1. ``op.start(options)`` once, before anything else (in the driver thread, so processes
   the runtime starts for the operator, such as actors, live as long as that thread).
2. Repeatedly, in any interleaving:

   * ``op.should_add_input()`` → when True the executor may call
     ``op.add_input(bundle, input_index)`` with the next bundle of input
     ``input_index`` (an index into ``op.input_dependencies``). The operator may
     launch remote work right away, or buffer the bundle.
   * ``op.get_active_tasks()`` lists the in-flight work as :class:`OpTask` s. The
     executor waits on their :meth:`OpTask.waitable` refs (``rt.wait``) and calls
     :meth:`OpTask.on_ready` on each one that finished; that is where the operator
     collects results (and raises a user's error).
   * ``while op.has_next(): bundle = op.get_next()`` drains the outputs.
   * ``op.input_done(i)`` when input ``i`` will send nothing more, and
     ``op.all_inputs_done()`` once every input is done (after the last
     ``input_done``). An operator that buffers (coalescing, all-to-all) flushes here.
   * ``op.mark_execution_finished()`` when downstream needs nothing more (a
     satisfied limit): the operator drops buffered input, launches nothing new and
     becomes ``completed()`` once its tasks are gone.
3. ``op.completed()`` is True once every input is done, no work is in flight and
   every output was taken; the executor then stops driving it.
4. ``op.shutdown()`` exactly once at the end (also on error or when the consumer
   stops early): cancels in-flight work and releases actors.

Resources: ``incremental_resource_usage()`` is what launching one more unit of
work would take (the executor checks it against its budgets before passing an
input), ``current_resource_usage()`` what the operator holds now (running tasks,
live actors, buffered blocks). Operators whose ``throttling_disabled()`` is True
(they launch no work, e.g. an input buffer or a limit) are fed without
backpressure.

Example:
    >>> from streamdata.block_metadata import BlockMetadata
    >>> b = RefBundle(blocks=(("ref-a", BlockMetadata(num_rows=3, size_bytes=24)),), owns_blocks=True)
    >>> b.num_rows(), b.size_bytes()
    (3, 24)
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from streamdata.block_metadata import BlockMetadata
from streamdata.core import api as rt

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.core.api import ObjectRef


# --------------------------------------------------------------------------- bundles


class BlockEntry(NamedTuple):
    """One block of a :class:`RefBundle`: its ObjectRef and metadata (Ray's ``BlockEntry``).

    A tuple too, so ``for ref, meta in bundle.blocks`` works as it always did.

    Example:
        >>> e = BlockEntry("ref", BlockMetadata(num_rows=1, size_bytes=8))
        >>> e.ref, e.metadata.num_rows, tuple(e) == ("ref", e.metadata)
        ('ref', 1, True)
    """

    ref: ObjectRef
    metadata: BlockMetadata


@dataclass(frozen=True, slots=True)
class RefBundle:
    """A group of blocks moving between operators as one unit.

    Attributes:
        blocks: :class:`BlockEntry` s (``.ref``, ``.metadata``; they unpack as
            ``(ref, metadata)`` pairs), one per block, in order. Plain pairs given here
            become BlockEntries.
        owns_blocks: whether the consumer may free the blocks once it used them
            (False for blocks the user still holds, e.g. a materialized dataset).
        output_split_idx: the split a bundle is destined to (output splitter only).

    Example:
        >>> from streamdata.block_metadata import BlockMetadata
        >>> m = BlockMetadata(num_rows=2, size_bytes=16)
        >>> RefBundle(blocks=(("r1", m), ("r2", m)), owns_blocks=False).num_rows()
        4
    """

    blocks: tuple[BlockEntry, ...]
    owns_blocks: bool
    output_split_idx: int | None = None

    def __post_init__(self) -> None:
        blocks = self.blocks
        if type(blocks) is tuple:
            for entry in blocks:
                if type(entry) is not BlockEntry:
                    break
            else:
                return
        object.__setattr__(self, "blocks", tuple(
            e if type(e) is BlockEntry else BlockEntry(*e) for e in blocks))

    def num_rows(self) -> int | None:
        """Total rows, or None if any block's row count is unknown."""
        total = 0
        for _, meta in self.blocks:
            if meta.num_rows is None:
                return None
            total += meta.num_rows
        return total

    def size_bytes(self) -> int:
        """Total bytes of the blocks (unknown sizes count as 0)."""
        return sum(meta.size_bytes or 0 for _, meta in self.blocks)

    def block_refs(self) -> list[ObjectRef]:
        """The blocks' ObjectRefs, in order."""
        return [ref for ref, _ in self.blocks]

    def metadata(self) -> list[BlockMetadata]:
        """The blocks' metadata, in order."""
        return [meta for _, meta in self.blocks]

    def __len__(self) -> int:
        return len(self.blocks)

    @staticmethod
    def merge(bundles: Sequence[RefBundle]) -> RefBundle:
        """One bundle holding the blocks of ``bundles`` in order.

        Example:
            >>> from streamdata.block_metadata import BlockMetadata
            >>> m = BlockMetadata(num_rows=1, size_bytes=8)
            >>> a = RefBundle(blocks=(("x", m),), owns_blocks=True)
            >>> len(RefBundle.merge([a, a]))
            2
        """
        blocks = tuple(itertools.chain.from_iterable(b.blocks for b in bundles))
        return RefBundle(blocks=blocks, owns_blocks=all(b.owns_blocks for b in bundles))


# --------------------------------------------------------------------------- resources


@dataclass(frozen=True, slots=True)
class ExecutionResources:
    """An amount of CPU, GPU and object-store memory (bytes).

    Example:
        >>> a = ExecutionResources(cpu=1, object_store_memory=100)
        >>> (a + a).cpu, a.satisfies_limit(ExecutionResources(cpu=2, gpu=0, object_store_memory=50))
        (2, False)
    """

    cpu: float = 0.0
    gpu: float = 0.0
    object_store_memory: float = 0.0

    def __add__(self, other: ExecutionResources) -> ExecutionResources:
        return ExecutionResources(cpu=self.cpu + other.cpu, gpu=self.gpu + other.gpu,
                                  object_store_memory=self.object_store_memory + other.object_store_memory)

    def __sub__(self, other: ExecutionResources) -> ExecutionResources:
        return ExecutionResources(cpu=self.cpu - other.cpu, gpu=self.gpu - other.gpu,
                                  object_store_memory=self.object_store_memory - other.object_store_memory)

    def scale(self, factor: float) -> ExecutionResources:
        """Every amount multiplied by ``factor``."""
        return ExecutionResources(cpu=self.cpu * factor, gpu=self.gpu * factor,
                                  object_store_memory=self.object_store_memory * factor)

    def satisfies_limit(self, limit: ExecutionResources) -> bool:
        """Whether every amount is within ``limit`` (a tiny tolerance for float sums)."""
        eps = 1e-9
        return (self.cpu <= limit.cpu + eps and self.gpu <= limit.gpu + eps
                and self.object_store_memory <= limit.object_store_memory + eps)

    def max(self, other: ExecutionResources) -> ExecutionResources:
        """The element-wise maximum."""
        return ExecutionResources(cpu=max(self.cpu, other.cpu), gpu=max(self.gpu, other.gpu),
                                  object_store_memory=max(self.object_store_memory,
                                                          other.object_store_memory))

    def clamp_min_zero(self) -> ExecutionResources:
        """Negative amounts replaced by zero."""
        return self.max(ExecutionResources())


class ErrorBudget:
    """How many failed blocks one execution still tolerates (``DataContext.max_errored_blocks``).

    Shared by every operator of an execution; a negative limit means no limit.

    Example:
        >>> b = ErrorBudget(1)
        >>> b.allow("file a.csv"), b.allow("file b.csv"), b.skipped
        (True, False, ['file a.csv'])
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.skipped: list[str] = []

    def allow(self, what: str) -> bool:
        """Record one more failed block named ``what``; False when over the limit."""
        if self.limit >= 0 and len(self.skipped) >= self.limit:
            return False
        self.skipped.append(what)
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionOptions:
    """Options of one execution, handed to every operator's :meth:`PhysicalOperator.start`.

    Attributes:
        resource_limits: CPU/GPU/object-store budget for the whole execution.
        preserve_order: emit outputs in input order (the executor sets it from
            ``DataContext.preserve_order``, default True).
        target_max_block_size: outputs larger than this are split into several blocks.
        error_budget: the failed blocks this execution tolerates (``DataContext.max_errored_blocks``),
            shared by its operators.
        data_context: the driver's DataContext, handed to workers.
    """

    resource_limits: ExecutionResources = ExecutionResources(cpu=1.0, gpu=0.0,
                                                             object_store_memory=float("inf"))
    preserve_order: bool = False
    target_max_block_size: int = 128 * 1024 * 1024
    error_budget: ErrorBudget = field(default_factory=lambda: ErrorBudget(0))
    data_context: Any = None


# --------------------------------------------------------------------------- in-flight work


class OpTask:
    """One unit of in-flight work: a ref the executor waits on and what to do when it is ready.

    Args:
        waitable: the ObjectRef that becomes ready when the work finished (for a map task
            its small metadata return value).
        on_ready: called by the executor (driver thread) once ``waitable`` is ready; it
            fetches the result and may raise the user's error.
        task_index: the operator's number for this task (for error messages).
        cancel: how to cancel the work (defaults to ``rt.cancel(waitable)``).
    """

    __slots__ = ("_cancel", "_on_ready", "_waitable", "task_index")

    def __init__(self, waitable: ObjectRef, on_ready: Callable[[], None], *, task_index: int = 0,
                 cancel: Callable[[], None] | None = None) -> None:
        self._waitable = waitable
        self._on_ready = on_ready
        self.task_index = task_index
        self._cancel = cancel

    def waitable(self) -> ObjectRef:
        """The ref to pass to ``rt.wait``."""
        return self._waitable

    def on_ready(self) -> None:
        """Collect the finished work (the executor calls this once)."""
        self._on_ready()

    def cancel(self) -> None:
        """Best-effort cancellation of the work."""
        if self._cancel is not None:
            self._cancel()
            return
        try:
            rt.cancel(self._waitable)
        except Exception:  # noqa: BLE001 - already finished or runtime gone
            pass


@dataclass(slots=True)
class OpMetrics:
    """Counters an operator keeps for stats and progress (updated on the driver thread)."""

    tasks_submitted: int = 0
    tasks_finished: int = 0
    tasks_failed: int = 0
    blocks_in: int = 0
    rows_in: int = 0
    bytes_in: int = 0
    blocks_out: int = 0
    rows_out: int = 0
    bytes_out: int = 0
    task_cpu_s: float = 0.0
    task_wall_s: float = 0.0
    peak_object_store_bytes: int = 0
    errored_blocks: list[str] = field(default_factory=list)

    def on_input(self, bundle: RefBundle) -> None:
        self.blocks_in += len(bundle.blocks)
        self.rows_in += bundle.num_rows() or 0
        self.bytes_in += bundle.size_bytes()

    def on_output(self, bundle: RefBundle) -> None:
        self.blocks_out += len(bundle.blocks)
        self.rows_out += bundle.num_rows() or 0
        self.bytes_out += bundle.size_bytes()

    def average_output_bytes_per_task(self) -> float | None:
        """Bytes a finished task produced on average, None before the first one finished."""
        if self.tasks_finished == 0:
            return None
        return self.bytes_out / self.tasks_finished


# --------------------------------------------------------------------------- the operator ABC

_op_ids = itertools.count()

#: Whether ``shutdown`` cancels work still in flight (e.g. read tasks upstream of a
#: satisfied limit, or everything when the consumer stops early).
CANCEL_ON_SHUTDOWN = True


class PhysicalOperator(ABC):
    """A node of the physical DAG (see the module docstring for the call protocol).

    Args:
        name: shown in stats, progress bars, errors and ``explain()``.
        input_dependencies: the operators feeding this one, in input-index order.

    Subclasses implement :meth:`add_input`, :meth:`has_next`, :meth:`get_next` and
    usually :meth:`get_active_tasks`, :meth:`all_inputs_done`, the resource methods and
    :meth:`shutdown`.
    """

    def __init__(self, name: str, input_dependencies: Sequence[PhysicalOperator]) -> None:
        self.name = name
        self.input_dependencies: list[PhysicalOperator] = list(input_dependencies)
        self.output_dependencies: list[PhysicalOperator] = []
        for dep in self.input_dependencies:
            dep.output_dependencies.append(self)
        self.id = next(_op_ids)
        self.metrics = OpMetrics()
        self._inputs_done = [False] * len(self.input_dependencies)
        self._all_inputs_done_called = False
        self._execution_finished = False
        self._started = False
        self.options = ExecutionOptions()

    # ---- lifecycle
    def start(self, options: ExecutionOptions) -> None:
        """Prepare to run (create actors, remote functions). Called once."""
        self.options = options
        self._started = True

    def shutdown(self) -> None:
        """Cancel in-flight work (see :data:`CANCEL_ON_SHUTDOWN`) and release held resources.
        Called once at the end."""
        if CANCEL_ON_SHUTDOWN:
            for task in self.get_active_tasks():
                task.cancel()

    # ---- input side
    def should_add_input(self) -> bool:
        """Whether the operator can take one more input bundle now (default: always)."""
        return True

    @abstractmethod
    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        """Take one bundle of input ``input_index``."""

    def input_done(self, input_index: int) -> None:
        """Input ``input_index`` will send nothing more."""
        self._inputs_done[input_index] = True

    def all_inputs_done(self) -> None:
        """Every input is done; flush whatever is buffered."""
        self._all_inputs_done_called = True

    def inputs_complete(self) -> bool:
        """Whether :meth:`all_inputs_done` was called (or the operator has no inputs)."""
        return self._all_inputs_done_called or not self.input_dependencies

    # ---- output side
    @abstractmethod
    def has_next(self) -> bool:
        """Whether an output bundle is ready."""

    @abstractmethod
    def get_next(self) -> RefBundle:
        """Take the next output bundle (only when :meth:`has_next` is True)."""

    # ---- in-flight work
    def get_active_tasks(self) -> list[OpTask]:
        """The work in flight (default: none)."""
        return []

    def num_active_tasks(self) -> int:
        """How many units of work are in flight."""
        return len(self.get_active_tasks())

    def internal_queue_size(self) -> int:
        """Bundles buffered inside the operator, waiting to be processed."""
        return 0

    def internal_queue_bytes(self) -> int:
        """Bytes of the blocks buffered inside the operator (inputs and outputs not yet taken)."""
        return 0

    # ---- completion
    def mark_execution_finished(self) -> None:
        """Downstream needs nothing more: drop buffers, launch nothing new."""
        self._execution_finished = True

    def execution_finished(self) -> bool:
        """Whether :meth:`mark_execution_finished` was called."""
        return self._execution_finished

    def needs_more_input(self) -> bool:
        """False once the operator will ignore further input (e.g. a satisfied limit)."""
        return not self._execution_finished

    def completed(self) -> bool:
        """Every input is done (or execution finished), nothing is in flight, every output taken."""
        return ((self.inputs_complete() or self._execution_finished)
                and self.num_active_tasks() == 0 and self.internal_queue_size() == 0
                and not self.has_next())

    # ---- resources
    def throttling_disabled(self) -> bool:
        """True for operators that launch no work; the executor feeds them without limits."""
        return False

    def incremental_resource_usage(self) -> ExecutionResources:
        """What one more unit of work would take (CPU/GPU and estimated output bytes)."""
        return ExecutionResources()

    def current_resource_usage(self) -> ExecutionResources:
        """What the operator holds now (running tasks and actors; buffered bytes)."""
        return ExecutionResources(object_store_memory=self.internal_queue_bytes())

    def base_resource_usage(self) -> ExecutionResources:
        """What the operator holds at minimum while running (e.g. an actor pool's min size)."""
        return ExecutionResources()

    def pending_output_bytes(self) -> float:
        """Estimated bytes the in-flight work will still produce."""
        avg = self.metrics.average_output_bytes_per_task()
        return (avg or 0.0) * self.num_active_tasks()

    # ---- description
    def progress_str(self) -> str:
        """A short status for progress bars, e.g. ``"2 tasks, 1 queued"``."""
        return f"{self.num_active_tasks()} active, {self.internal_queue_size()} queued"

    def num_outputs_total(self) -> int | None:
        """Expected number of output bundles when known (for progress bars)."""
        return None

    def explain_lines(self) -> list[str]:
        """Extra lines shown under this operator in ``explain()``."""
        return []

    def post_order(self) -> Iterator[PhysicalOperator]:
        """This operator's DAG, inputs before consumers, each operator once."""
        seen: set[int] = set()

        def visit(op: PhysicalOperator) -> Iterator[PhysicalOperator]:
            if op.id in seen:
                return
            seen.add(op.id)
            for dep in op.input_dependencies:
                yield from visit(dep)
            yield op

        yield from visit(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


__all__ = [
    "ErrorBudget",
    "ExecutionOptions",
    "ExecutionResources",
    "OpMetrics",
    "OpTask",
    "PhysicalOperator",
    "RefBundle",
]
