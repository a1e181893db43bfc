"""The runtime's state machine: every object, task, actor, worker and resource grant.

:class:`RuntimeState` holds the driver's bookkeeping and nothing else: no
sockets, no files, no threads, no processes. Each event
(:mod:`streamdata.core.events`) goes through :meth:`RuntimeState.handle`, which
updates the state and returns the commands the loop
(:class:`~streamdata.core.runtime.Runtime`) must execute: send a message, spawn
or kill a worker, answer the driver, start a timer, free or spill an object.

Lifecycles:

* object: ``pending`` (its task runs) → ``ready`` (a location: inline bytes, an
  shm file, a disk file after spilling, or an error) → freed when its count of
  holders (processes holding refs, tasks it is an argument of, objects that
  contain it) drops to zero;
* task: waiting for its dependencies → ready queue → running on a worker →
  done (or retried after a worker death / a retryable exception);
* actor: see :mod:`streamdata.core.actor_manager`.

A task blocked in ``get``/``wait`` lends its CPUs to other tasks until the
answer comes (or it gives up), so tasks waiting on tasks never deadlock.

Example:
    >>> from streamdata.core.events import SpawnWorker
    >>> state = RuntimeState(token="t", num_cpus=1, total={"CPU": 1.0}, object_store_memory=1 << 20)
    >>> [type(c).__name__ for c in state.start()]
    ['SpawnWorker']
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any, Callable

from streamdata.core import protocol as msgs
from streamdata.core.actor_manager import ActorManager
from streamdata.core.events import (
    KillWorker,
    MemoryPressure,
    ObjectSpilled,
    ReplyToDriver,
    Send,
    ShutdownStarted,
    SpawnWorker,
    SpillFailed,
    StartTimer,
    TimerFired,
    WorkerDied,
    WorkerMessage,
)
from streamdata.core.lineage import LineageManager
from streamdata.core.memory_monitor import RunningWork, kill_message, pick_victim
from streamdata.core.object_directory import ObjectDirectory
from streamdata.core.object_store import StoreAccounting
from streamdata.core.placement import PlacementGroupManager
from streamdata.core.requests import REQUESTS
from streamdata.core.resources import Grant, ResourcePool, infeasible_reason
from streamdata.core.serialization import dumps_exception
from streamdata.core.streams import GeneratorStreams
from streamdata.core.tasks import TaskRecord, WorkerState
from streamdata.core.timeline import TaskLog
from streamdata.errors import (InfeasibleResourceError, OutOfMemoryError, RuntimeEnvSetupError, StreamDataError,
                               TaskCancelledError, WorkerCrashedError)


class RuntimeState:
    """The driver's bookkeeping as a state machine: ``handle(event) -> commands``."""

    def __init__(self, *, token: str, num_cpus: float, total: dict[str, float],
                 object_store_memory: int, clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.task_log = TaskLog(clock)
        self.num_cpus = num_cpus
        self.node = ResourcePool(total)
        self._out: list[Any] = []
        self.directory = ObjectDirectory(StoreAccounting(object_store_memory), self.emit)
        self.tasks: dict[str, TaskRecord] = {}
        self.ready_queue: deque[TaskRecord] = deque()
        self.functions: dict[str, bytes] = {}
        self.workers: dict[str, WorkerState] = {}
        self.idle: deque[WorkerState] = deque()
        self.num_task_workers = 0
        self._worker_ids = itertools.count()
        self._timers: dict[int, Callable[[], None]] = {}
        self._timer_ids = itertools.count()
        self.closed = False
        self.actors = ActorManager(self)
        self.placement = PlacementGroupManager(self)
        self.lineage = LineageManager(self)
        self.streams = GeneratorStreams(self.directory)
        self.directory.on_free = self._on_object_freed
        self.directory.on_actor_released = self.actors.on_handles_released
        self._dispatches = itertools.count(1)
        #: the worker the memory monitor killed, until its death is seen (one kill at a time)
        self.oom_victim: str | None = None

    # ------------------------------------------------------------------ the machine
    def start(self) -> list[Any]:
        """The commands that start the pool of task workers (one per CPU, at least one)."""
        for _ in range(max(1, int(self.num_cpus))):
            self._spawn_task_worker()
        return self.take_commands()

    def handle(self, event: Any) -> list[Any]:
        """Apply one event; returns the commands it produced, in order.

        If the event raises (e.g. a duplicate actor name), the commands produced
        before the error stay queued: the caller gets them from :meth:`take_commands`.
        """
        _HANDLERS[type(event)](self, event)
        return self.take_commands()

    def take_commands(self) -> list[Any]:
        out, self._out = self._out, []
        return out

    def emit(self, command: Any) -> None:
        self._out.append(command)

    def handle_message(self, worker_id: str | None, msg: Any) -> list[Any]:
        """``handle(WorkerMessage(worker_id, msg))`` without building the event: the
        per-task path (submissions, results, ref changes) comes through here."""
        worker = None
        if worker_id is not None:
            worker = self.workers.get(worker_id)
            if worker is None:
                return []  # a message sent before the worker's death was handled
        _MESSAGES[type(msg)](self, worker, msg)
        out, self._out = self._out, []
        return out

    def _on_worker_message(self, event: WorkerMessage) -> None:
        commands = self.handle_message(event.worker_id, event.message)  # it takes self._out
        self._out.extend(commands)

    def _on_timer(self, event: TimerFired) -> None:
        fn = self._timers.pop(event.timer_id, None)
        if fn is not None:
            fn()

    def _on_memory_pressure(self, event: MemoryPressure) -> None:
        """The machine is short of memory: kill the worker the policy picks (one at a time)."""
        victim_id = self.oom_victim
        if self.closed or (victim_id is not None and victim_id in self.workers):
            return
        running = []
        for worker in self.workers.values():
            task = worker.task
            if task is not None and task.kind == "task":
                running.append(RunningWork(worker.worker_id, f"task {task.name}", task.owner,
                                           task.retries_left != 0 and not task.cancelled, worker.started,
                                           event.rss.get(worker.worker_id, 0)))
            elif worker.actor_id is not None:
                name, retriable = self.actors.describe_for_kill(worker.actor_id)
                running.append(RunningWork(worker.worker_id, name, worker.actor_id, retriable, worker.started,
                                           event.rss.get(worker.worker_id, 0)))
        victim = pick_victim(event.used, event.total, event.threshold, running)
        if victim is None:
            return
        self.oom_victim = victim.worker_id
        self.workers[victim.worker_id].kill_reason = kill_message(victim, event.used, event.total,
                                                                  event.threshold)
        self.emit(KillWorker(victim.worker_id))

    def _on_spilled(self, event: ObjectSpilled) -> None:
        self.directory.spilled(event.obj_id, event.location)

    def _on_spill_failed(self, event: SpillFailed) -> None:
        self.directory.spill_failed(event.obj_id)

    def _on_shutdown(self, event: ShutdownStarted) -> None:
        self.closed = True
        for worker in self.workers.values():
            self.emit(Send(worker.worker_id, msgs.Exit()))

    # ------------------------------------------------------------------ messages
    def _msg_refs(self, worker: WorkerState | None, msg: msgs.RefsDelta) -> None:
        change = self.directory.change_refs
        if worker is None:  # the driver's own refs
            for delta, obj_id in msg.deltas:
                change(obj_id, delta)
            return
        held = worker.held_refs
        for delta, obj_id in msg.deltas:
            count = held.get(obj_id, 0) + delta
            if count:
                held[obj_id] = count
            else:
                held.pop(obj_id, None)
            change(obj_id, delta)

    def _msg_done(self, worker: WorkerState | None, msg: msgs.TaskDone) -> None:
        task = self.tasks.get(msg.task_id)
        if task is None or worker is None:
            return
        if task.kind == "call":
            self.actors.on_call_done(task, msg.outputs, msg.error)
            return
        self._release_worker(worker, task)
        if msg.error is not None and task.should_retry_exception(msg.error):
            task.retries_left -= 1
            self._enqueue_ready(task)
            return
        self.complete(task, msg.outputs, msg.error)

    def _msg_submit(self, worker: WorkerState | None, msg: msgs.Submit) -> None:
        if worker is not None:
            msg.spec["owner"] = worker.worker_id
        self.submit_spec(msg.spec)

    def _on_object_freed(self, obj_id: str) -> None:
        self.lineage.on_free(obj_id)
        self.streams.release(obj_id)

    def _msg_generator_item(self, worker: WorkerState | None, msg: msgs.GeneratorItem) -> None:
        task = self.tasks.get(msg.task_id)
        if task is not None:
            self.streams.item(task.return_ids[0], msg.index, msg.obj_id)

    def _msg_put(self, worker: WorkerState | None, msg: msgs.PutObject) -> None:
        self.directory.created(msg.obj_id, msg.location, msg.contained)

    def _msg_request(self, worker: WorkerState | None, msg: msgs.Request) -> None:
        req_id = msg.req_id
        if worker is None:
            def reply(value: Any, ok: bool = True) -> None:
                self.emit(ReplyToDriver(req_id, ok, value))
        else:
            def reply(value: Any, ok: bool = True) -> None:
                if req_id in worker.cancelled_requests:  # late: the worker gave up on it
                    worker.cancelled_requests.discard(req_id)
                    return
                if worker.blocking_request == req_id:
                    self._unblock(worker)
                self.emit(Send(worker.worker_id, msgs.Reply(req_id, ok, value)))

        def fail(exc: BaseException) -> None:
            reply(exc, ok=False)

        handler = REQUESTS.get(msg.op)
        if handler is None:
            fail(StreamDataError(f"unknown runtime request {msg.op!r}"))
            return
        if worker is not None and msg.op in ("get", "wait", "lost"):
            self._block(worker, req_id)
        try:
            handler(self, reply, fail, *msg.args)
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    def _msg_request_cancel(self, worker: WorkerState | None, msg: msgs.RequestCancel) -> None:
        if worker is None:
            return
        worker.cancelled_requests.add(msg.req_id)  # it stopped waiting (timeout): stop lending its CPUs
        if worker.blocking_request == msg.req_id:
            self._unblock(worker)

    def _msg_actor_ready(self, worker: WorkerState | None, msg: msgs.ActorReady) -> None:
        if worker is not None:
            self.actors.on_ready(msg.actor_id, worker)

    def _msg_actor_failed(self, worker: WorkerState | None, msg: msgs.ActorFailed) -> None:
        self.actors.on_failed(msg.actor_id, msg.payload)

    def _msg_hello(self, worker: WorkerState | None, msg: msgs.Hello) -> None:
        if worker is not None:
            worker.pid = msg.pid

    # ------------------------------------------------------------------ CPU lending
    def _block(self, worker: WorkerState, req_id: int) -> None:
        """A task waiting in get/wait lends its CPUs to others (no deadlock when all wait)."""
        task = worker.task
        if task is None or worker.blocked or task.grant is None:
            return
        worker.blocked = True
        worker.blocking_request = req_id
        cpus = task.grant.amounts.get("CPU", 0.0)
        if cpus:
            lent = Grant({"CPU": cpus})
            task.pool.release(lent)
            worker.blocked_grant = lent
        self.schedule()

    def _unblock(self, worker: WorkerState) -> None:
        if not worker.blocked:
            return
        worker.blocked = False
        worker.blocking_request = None
        lent, worker.blocked_grant = worker.blocked_grant, None
        if lent is not None and worker.task is not None:
            pool = worker.task.pool
            for k, v in lent.amounts.items():  # take back, even if that oversubscribes a moment
                pool.available[k] = pool.available.get(k, 0.0) - v

    # ------------------------------------------------------------------ workers and timers
    def spawn_worker(self, env: dict | None = None) -> WorkerState:
        worker = WorkerState(f"{self.token}w{next(self._worker_ids)}.")
        self.workers[worker.worker_id] = worker
        self.emit(SpawnWorker(worker.worker_id, env))
        return worker

    def _spawn_task_worker(self) -> WorkerState:
        worker = self.spawn_worker()
        self.num_task_workers += 1
        self.idle.append(worker)
        return worker

    def take_idle_worker(self) -> WorkerState | None:
        """Hand an idle task worker to an actor (the pool refills later)."""
        if not self.idle:
            return None
        worker = self.idle.pop()
        self.num_task_workers -= 1
        return worker

    def refill_task_workers(self) -> None:
        if self.num_task_workers < max(1, int(self.num_cpus)):
            self._spawn_task_worker()

    def add_timer(self, delay: float, fn: Callable[[], None]) -> None:
        timer_id = next(self._timer_ids)
        self._timers[timer_id] = fn
        self.emit(StartTimer(timer_id, delay))

    # ------------------------------------------------------------------ queries (the loop's fast paths)
    def ready_locations(self, ids: list[str]) -> list | None:
        return self.directory.ready_locations(ids)

    # ------------------------------------------------------------------ tasks
    def submit_spec(self, spec: dict) -> None:
        kind = spec["kind"]
        if spec.get("fn_bytes") is not None:
            self.functions[spec["fn_id"]] = spec["fn_bytes"]
        if kind == "actor":
            self.actors.create(spec)
            return
        task = TaskRecord(spec)
        self.tasks[task.task_id] = task
        for obj_id in task.return_ids:
            self.directory.ensure(obj_id)
        for obj_id in task.pinned:
            self.directory.change_refs(obj_id, +1)
        if kind == "call":
            self.actors.enqueue_call(task)
            return
        why = task.env_error or self.infeasible(task)
        if why is not None:  # its runtime_env cannot be set up, or no resource here can ever run it: fail now
            cls = RuntimeEnvSetupError if task.env_error else InfeasibleResourceError
            self.finish_with_error(task, (dumps_exception(cls(why)), "", task.name))
            return
        self.resolve_then(task, lambda: self._enqueue_ready(task))

    def infeasible(self, task: TaskRecord) -> str | None:
        """Why ``task`` (or an actor's creation) can never be placed here, or None."""
        what = f"{task.kind} {task.name}"
        if not task.pg_id:
            return infeasible_reason(what, task.demand, self.node.total)
        bundles = self.placement.bundles_of(task.pg_id)
        if bundles is None:
            return None  # a removed group: scheduling reports that
        if 0 <= task.bundle_index < len(bundles):
            bundles = [bundles[task.bundle_index]]
        reasons = [infeasible_reason(what, task.demand, b) for b in bundles]
        if all(reasons):
            return (f"{what} requests {task.demand}, more than any bundle of its placement group has "
                    f"({bundles}); it can never run")
        return None

    def resolve_then(self, task: TaskRecord, then: Callable[[], None]) -> None:
        """Run ``then`` once every dependency of ``task`` is ready."""
        if not task.deps:
            then()
            return
        remaining = set(task.deps)

        def on_ready(obj_id: str) -> None:
            remaining.discard(obj_id)
            if not remaining:
                then()

        for obj_id in self.directory.when_ready(list(remaining), on_ready):
            remaining.discard(obj_id)
        if not remaining:
            then()

    def resubmit(self, task: TaskRecord) -> None:
        """Run a finished task again (lineage reconstruction of a lost output)."""
        self.tasks[task.task_id] = task
        for obj_id in task.pinned:
            self.directory.change_refs(obj_id, +1)
        if task.kind == "call":
            self.actors.enqueue_call(task)
        else:
            self.resolve_then(task, lambda: self._enqueue_ready(task))

    def _enqueue_ready(self, task: TaskRecord) -> None:
        if task.cancelled:
            return
        self.ready_queue.append(task)
        self.schedule()

    def dep_locations(self, task: TaskRecord) -> list[tuple[str, tuple]]:
        return [(d, self.directory.location_of(d)) for d in task.deps]

    def pool_for(self, task: TaskRecord) -> ResourcePool | None:
        return self.placement.pool_for(task) if task.pg_id else self.node

    def schedule(self) -> None:
        """Start every ready task that has resources and a worker."""
        self.placement.retry_pending()
        self.actors.retry_pending()
        queue = self.ready_queue
        if not queue:
            return
        no_room: list[TaskRecord] = []
        while queue and self.idle:
            task = queue.popleft()
            if task.cancelled:
                continue
            pool = self.pool_for(task)
            if pool is None:
                self.finish_with_error(task, system_error(task, "its placement group was removed"))
                continue
            grant = pool.try_acquire(task.demand)
            if grant is None:
                no_room.append(task)
                continue
            self._dispatch(task, self.idle.popleft(), pool, grant)
        # tasks that have resources but no idle worker (a worker lent its CPU while
        # blocked in get, or zero-CPU tasks) get new workers, up to a cap
        startable = 0
        node, placement = self.node, self.placement
        last: tuple = (None, None, False)  # queued tasks mostly share one shape: ask the pool once for a run of them
        for task in itertools.islice(queue, 16):
            pool = placement.pool_for(task) if task.pg_id else node
            if pool is None:
                continue
            if pool is not last[0] or task.demand != last[1]:
                last = (pool, task.demand, pool.can_acquire(task.demand))
            startable += last[2]
        queue.extendleft(reversed(no_room))
        if startable:
            blocked = sum(1 for w in self.workers.values() if w.blocked)
            cap = int(max(2 * self.num_cpus, self.num_cpus + 4)) + blocked
            spawned = 0
            for _ in range(min(startable, cap - self.num_task_workers)):
                self._spawn_task_worker()
                spawned += 1
            if spawned:  # new workers take messages before they finish starting
                self.schedule()

    def _dispatch(self, task: TaskRecord, worker: WorkerState, pool: ResourcePool, grant: Grant) -> None:
        task.worker, task.pool, task.grant = worker, pool, grant
        worker.task = task
        worker.started = next(self._dispatches)
        fn_bytes = None
        if task.fn_id not in worker.known_functions:
            fn_bytes = self.functions[task.fn_id]
            worker.known_functions.add(task.fn_id)
        self.task_log.started(task.task_id, task.name, worker.worker_id)
        self.emit(Send(worker.worker_id, msgs.TaskSpec(
            task.task_id, task.fn_id, fn_bytes, task.args, self.dep_locations(task), task.return_ids,
            task.env_for(grant), grant.gpu_ids, task.name, resources=dict(grant.amounts),
            streaming=task.spec.get("streaming", False), device_ids=grant.ids)))

    def complete(self, task: TaskRecord, outputs: list | None, error: tuple | None) -> None:
        """Record a task's outputs (or its error in every output) and unpin its arguments."""
        self.task_log.finished(task.task_id, ok=outputs is not None)
        if outputs is not None:
            self.lineage.record(task)
            for obj_id, location, contained in outputs:
                self.directory.created(obj_id, location, contained)
        else:
            for obj_id in task.return_ids:
                self.directory.set_error(obj_id, error)  # type: ignore[arg-type]
        self.tasks.pop(task.task_id, None)
        for obj_id in task.pinned:
            self.directory.change_refs(obj_id, -1)
        task.pinned = []

    def finish_with_error(self, task: TaskRecord, payload: tuple) -> None:
        self.complete(task, None, payload)

    def _release_worker(self, worker: WorkerState, task: TaskRecord) -> None:
        self._unblock(worker)
        if task.grant is not None and task.pool is not None:
            task.pool.release(task.grant)
        task.grant = None
        worker.task = None
        if worker.alive and worker.actor_id is None:
            if worker.count_call(task):  # max_calls: it leaves (its death brings a fresh worker)
                self.emit(Send(worker.worker_id, msgs.Exit()))
            else:
                self.idle.append(worker)
        self.schedule()

    def cancel_task_of(self, obj_id: str, force: bool) -> None:
        task = next((t for t in self.tasks.values() if obj_id in t.return_ids), None)
        if task is None:
            return
        payload = (dumps_exception(TaskCancelledError(f"task {task.name} was cancelled")), "", task.name)
        if task.kind == "call":
            self.actors.cancel_call(task, force, payload)
            return
        worker = task.worker
        task.cancelled = True
        if worker is None:  # not started yet
            self.finish_with_error(task, payload)
        elif force:
            task.retries_left = 0
            task.cancel_payload = payload
            self.emit(KillWorker(worker.worker_id))
        else:
            self.emit(Send(worker.worker_id, msgs.Cancel(task.task_id)))

    # ------------------------------------------------------------------ failures
    def _on_worker_died(self, event: WorkerDied) -> None:
        worker = self.workers.pop(event.worker_id, None)
        if worker is None or not worker.alive:
            return
        worker.alive = False
        try:
            self.idle.remove(worker)
            self.num_task_workers -= 1
        except ValueError:
            if worker.actor_id is None and not self.closed:
                self.num_task_workers -= 1
        if self.closed:
            return
        for obj_id, count in worker.held_refs.items():  # refs the dead process held
            self.directory.change_refs(obj_id, -count)
        worker.held_refs.clear()
        exit_info = event.exit_info
        if worker.kill_reason:  # the memory monitor killed it
            exit_info = worker.kill_reason
            if self.oom_victim == worker.worker_id:
                self.oom_victim = None
        if worker.actor_id is not None:
            self.actors.on_worker_death(worker, exit_info)
        self.actors.on_owner_death(worker.worker_id, exit_info)
        task = worker.task
        if task is not None and task.kind == "task":
            worker.task = None
            if worker.blocked:
                worker.blocked = False
            elif task.grant is not None:
                task.pool.release(task.grant)
            task.grant = None
            task.worker = None
            if task.cancelled and task.cancel_payload is not None:
                self.finish_with_error(task, task.cancel_payload)
            elif task.retries_left != 0 and not task.cancelled:
                task.retries_left -= 1
                self.ready_queue.appendleft(task)
            else:
                self.finish_with_error(task, system_error(
                    task, f"the worker running it died ({exit_info})",
                    OutOfMemoryError if worker.kill_reason else WorkerCrashedError))
        self.refill_task_workers()
        self.schedule()


def system_error(task: TaskRecord, why: str, cls: type = WorkerCrashedError) -> tuple:
    """The stored error of a task that failed for a system reason (no user traceback)."""
    return (dumps_exception(cls(f"task {task.name} failed: {why}")), "", task.name)


_HANDLERS: dict[type, Callable[[RuntimeState, Any], None]] = {
    WorkerMessage: RuntimeState._on_worker_message,
    WorkerDied: RuntimeState._on_worker_died,
    TimerFired: RuntimeState._on_timer,
    MemoryPressure: RuntimeState._on_memory_pressure,
    ObjectSpilled: RuntimeState._on_spilled,
    SpillFailed: RuntimeState._on_spill_failed,
    ShutdownStarted: RuntimeState._on_shutdown,
}

_MESSAGES: dict[type, Callable[[RuntimeState, Any, Any], None]] = {
    msgs.RefsDelta: RuntimeState._msg_refs,
    msgs.TaskDone: RuntimeState._msg_done,
    msgs.Submit: RuntimeState._msg_submit,
    msgs.PutObject: RuntimeState._msg_put,
    msgs.Request: RuntimeState._msg_request,
    msgs.RequestCancel: RuntimeState._msg_request_cancel,
    msgs.ActorReady: RuntimeState._msg_actor_ready,
    msgs.ActorFailed: RuntimeState._msg_actor_failed,
    msgs.Hello: RuntimeState._msg_hello,
    msgs.GeneratorItem: RuntimeState._msg_generator_item,
}
