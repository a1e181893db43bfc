"""What the state machine's parts (actors, placement groups, request handlers) may use of it.

:class:`~streamdata.core.state.RuntimeState` satisfies :class:`StateHost`; the
parts it delegates to (:mod:`~streamdata.core.actor_manager`,
:mod:`~streamdata.core.placement`, :mod:`~streamdata.core.requests`) are typed
against this protocol, so none of them imports the state module back.

Example:
    >>> from streamdata.core.state import RuntimeState
    >>> "emit" in StateHost.__dict__ and hasattr(RuntimeState, "emit")
    True
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from streamdata.core.object_directory import ObjectDirectory
from streamdata.core.resources import ResourcePool
from streamdata.core.tasks import TaskRecord, WorkerState


class StateHost(Protocol):
    """The scheduler's state and operations, as its parts see them."""

    directory: ObjectDirectory
    node: ResourcePool
    functions: dict[str, bytes]
    num_cpus: float
    num_task_workers: int
    #: the ActorManager and the PlacementGroupManager
    actors: Any
    placement: Any
    #: the LineageManager
    lineage: Any
    task_log: Any
    #: the GeneratorStreams (items of streaming generator tasks)
    streams: Any

    def emit(self, command: Any) -> None: ...

    def spawn_worker(self, env: dict | None = None) -> WorkerState: ...

    def take_idle_worker(self) -> WorkerState | None: ...

    def refill_task_workers(self) -> None: ...

    def add_timer(self, delay: float, fn: Callable[[], None]) -> None: ...

    def dep_locations(self, task: TaskRecord) -> list[tuple[str, tuple]]: ...

    def resolve_then(self, task: TaskRecord, then: Callable[[], None]) -> None: ...

    def complete(self, task: TaskRecord, outputs: list | None, error: tuple | None) -> None: ...

    def finish_with_error(self, task: TaskRecord, payload: tuple) -> None: ...

    def schedule(self) -> None: ...

    def resubmit(self, task: TaskRecord) -> None: ...

    def infeasible(self, task: TaskRecord) -> str | None: ...

    def cancel_task_of(self, obj_id: str, force: bool) -> None: ...
