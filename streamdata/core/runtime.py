"""The driver side of the embedded runtime: owner of every object, scheduler of
every task and actor.

State lives in one :class:`Runtime` guarded by one re-entrant lock. Three kinds
of thread touch it: user threads (through :mod:`streamdata.core.api`), the
*reader* thread (messages from workers, timers, reference-count updates) and the
log thread (:class:`~streamdata.core.processes.LogStreamer`, no state).

Lifecycles:

* object: ``pending`` (its task runs) → ``ready`` (a location: inline bytes, an
  shm file, a disk file after spilling, or an error) → freed when its count of
  holders (processes holding refs, tasks it is an argument of, objects that
  contain it) drops to zero;
* task: waiting for its dependencies → ready queue → running on a worker →
  done (or retried after a worker death / a retryable exception);
* actor: see :mod:`streamdata.core.actor_manager`.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import selectors
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable

import psutil

from streamdata.core import object_ref as object_ref_mod
from streamdata.core import processes
from streamdata.core.actor_manager import ActorManager
from streamdata.core.object_directory import ObjectDirectory
from streamdata.core.object_store import StoreAccounting, make_location, raise_open_file_limit
from streamdata.core.placement import PlacementGroupManager
from streamdata.core.requests import REQUESTS
from streamdata.core import protocol as msgs
from streamdata.core.client import ClientBase
from streamdata.core.resources import Grant, ResourcePool
from streamdata.core.serialization import dumps_exception, serialize
from streamdata.core.tasks import TaskRecord
from streamdata.errors import (
    GetTimeoutError,
    StreamDataError,
    TaskCancelledError,
    WorkerCrashedError,
)


class Runtime(ClientBase):
    """The embedded runtime of one driver process."""

    def __init__(self, *, num_cpus: float, num_gpus: float, resources: dict[str, float],
                 object_store_memory: int, spill_dir: str | None, memory: float) -> None:
        token = uuid.uuid4().hex[:8]
        # ids carry the session's token, so refs outliving a session never touch the next one
        self._token = token
        super().__init__(id_prefix=f"{token}d")
        self.session = f"streamdata-{os.getuid()}-{os.getpid()}-{token}"
        base_shm = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        self.shm_dir = os.path.join(base_shm, self.session)
        os.makedirs(self.shm_dir, mode=0o700)
        raise_open_file_limit()
        self.spill_dir = os.path.join(spill_dir or tempfile.gettempdir(), self.session + "-spill")
        self.num_cpus = num_cpus
        total = {"CPU": float(num_cpus), "GPU": float(num_gpus), "memory": float(memory),
                 "object_store_memory": float(object_store_memory)}
        total.update({k: float(v) for k, v in resources.items()})
        self.node = ResourcePool(total)
        self.lock = threading.RLock()
        self.directory = ObjectDirectory(StoreAccounting(object_store_memory), self.shm_dir, self.spill_dir)
        self.tasks: dict[str, TaskRecord] = {}
        self.ready_queue: deque[TaskRecord] = deque()
        self.functions: dict[str, bytes] = {}
        self.workers: dict[str, processes.WorkerProcess] = {}
        self.idle: deque[processes.WorkerProcess] = deque()
        self.num_task_workers = 0
        self._worker_ids = itertools.count()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._closed = False
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self.logs = processes.LogStreamer()
        self.reaper = processes.start_reaper([self.shm_dir, self.spill_dir])
        self.actors = ActorManager(self)
        self.placement = PlacementGroupManager(self)
        object_ref_mod.tracker.on_pending = self._wake
        self._reader = threading.Thread(target=self._read_loop, name="streamdata-runtime", daemon=True)
        self._reader.start()
        with self.lock:
            for _ in range(max(1, int(num_cpus))):
                self._spawn_task_worker()

    # ------------------------------------------------------------------ processes
    def spawn_worker(self, env: dict | None = None) -> processes.WorkerProcess:
        wid = f"{self._token}w{next(self._worker_ids)}."
        worker = processes.spawn_worker(wid, self.shm_dir, self.spill_dir, env)
        self.workers[wid] = worker
        self.logs.add(worker.proc)
        self._sel.register(worker.conn.fileno(), selectors.EVENT_READ, worker)
        try:
            self.reaper.stdin.write(b"")  # keep the reaper's pipe open
        except (OSError, ValueError):
            pass
        self._wake()
        return worker

    def _spawn_task_worker(self) -> processes.WorkerProcess:
        worker = self.spawn_worker()
        self.num_task_workers += 1
        self.idle.append(worker)
        return worker

    def take_idle_worker(self) -> processes.WorkerProcess | None:
        """Hand an idle task worker to an actor (the pool refills later)."""
        if not self.idle:
            return None
        worker = self.idle.pop()
        self.num_task_workers -= 1
        return worker

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # ------------------------------------------------------------------ reader thread
    def _read_loop(self) -> None:
        while not self._closed:
            timeout = 0.2
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
            try:
                events = self._sel.select(timeout)
            except (OSError, ValueError):
                if self._closed:
                    return
                continue
            for key, _ in events:
                worker = key.data
                if worker is None:
                    try:
                        os.read(self._wake_r, 65536)
                    except OSError:
                        pass
                    continue
                self._drain_worker(worker)
            with self.lock:
                if self._closed:
                    return
                self.apply_local_refs()
                self._run_timers()

    def _drain_worker(self, worker: processes.WorkerProcess) -> None:
        conn = worker.conn
        try:
            while True:
                msg = pickle.loads(conn.recv_bytes())
                with self.lock:
                    self.apply_local_refs()
                    self._handle(worker, msg)
                if not conn.poll(0):
                    return
        except (EOFError, OSError, ConnectionResetError):
            with self.lock:
                self._on_worker_death(worker)

    def _handle(self, worker: processes.WorkerProcess, msg: msgs.Message) -> None:
        kind = type(msg)
        if kind is msgs.RefsDelta:
            held = worker.held_refs
            for delta, obj_id in msg.deltas:
                count = held.get(obj_id, 0) + delta
                if count:
                    held[obj_id] = count
                else:
                    held.pop(obj_id, None)
                self.directory.change_refs(obj_id, delta)
        elif kind is msgs.TaskDone:
            self._on_task_done(worker, msg.task_id, msg.outputs, msg.error)
        elif kind is msgs.Submit:
            self.submit_spec(msg.spec)
        elif kind is msgs.PutObject:
            self.directory.created(msg.obj_id, msg.location, msg.contained)
        elif kind is msgs.Request:
            self._handle_request(worker, msg.req_id, msg.op, msg.args)
        elif kind is msgs.RequestCancel:  # the worker stopped waiting (timeout): stop lending its CPUs
            worker.cancelled_requests.add(msg.req_id)
            if worker.blocking_request == msg.req_id:
                self._unblock(worker)
        elif kind is msgs.ActorReady:
            self.actors.on_ready(msg.actor_id, worker)
        elif kind is msgs.ActorFailed:
            self.actors.on_failed(msg.actor_id, msg.payload)

    def _handle_request(self, worker: processes.WorkerProcess, req_id: int, op: str, args: tuple) -> None:
        def reply(value: Any, ok: bool = True) -> None:
            if req_id in worker.cancelled_requests:  # late: the worker gave up on it
                worker.cancelled_requests.discard(req_id)
                return
            if worker.blocking_request == req_id:
                self._unblock(worker)
            worker.send(msgs.Reply(req_id, ok, value))

        def fail(exc: BaseException) -> None:
            reply(exc, ok=False)

        try:
            handler = REQUESTS[op]
        except KeyError:
            fail(StreamDataError(f"unknown runtime request {op!r}"))
            return
        if op in ("get", "wait"):
            self._block(worker, req_id)
        try:
            handler(self, reply, fail, *args)
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    def _block(self, worker: processes.WorkerProcess, req_id: int) -> None:
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

    def _unblock(self, worker: processes.WorkerProcess) -> None:
        if not worker.blocked:
            return
        worker.blocked = False
        worker.blocking_request = None
        lent, worker.blocked_grant = worker.blocked_grant, None
        if lent is not None and worker.task is not None:
            pool = worker.task.pool
            for k, v in lent.amounts.items():  # take back, even if that oversubscribes a moment
                pool.available[k] = pool.available.get(k, 0.0) - v

    # ------------------------------------------------------------------ timers
    def add_timer(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), fn))
        self._wake()

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            fn()

    # ------------------------------------------------------------------ objects
    def apply_local_refs(self) -> None:
        """Apply the driver process's own ref transitions (queued by ObjectRef)."""
        for delta, obj_id in object_ref_mod.tracker.drain():
            self.directory.change_refs(obj_id, delta)

    # ------------------------------------------------------------------ ClientBase transport (driver)
    def _submit(self, spec: dict) -> None:
        with self.lock:
            self.apply_local_refs()
            self.submit_spec(spec)

    def _fetch_locations(self, ids: list[str], timeout: float | None) -> list:
        with self.lock:  # fast path: everything is ready already
            self.apply_local_refs()
            locations = self.directory.ready_locations(ids)
        if locations is not None:
            return locations
        return self._call("get", ids, timeout, timeout=timeout)

    def _store(self, obj_id: str, value: Any) -> None:
        sobj = serialize(value)
        location = make_location(obj_id, sobj, self.shm_dir, self.spill_dir)
        with self.lock:
            self.apply_local_refs()
            self.directory.created(obj_id, location, sobj.contained_ids)

    def _call(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        result: list = []
        event = threading.Event()

        def reply(value: Any, ok: bool = True) -> None:
            result.append((ok, value))
            event.set()

        def fail(exc: BaseException) -> None:
            reply(exc, ok=False)

        with self.lock:
            self.apply_local_refs()
            REQUESTS[op](self, reply, fail, *args)
        if not event.wait(timeout):
            raise GetTimeoutError(f"{op} did not finish within {timeout} s")
        ok, value = result[0]
        if not ok:
            raise value
        return value

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
        self.resolve_then(task, lambda: self._enqueue_ready(task))

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

    def _enqueue_ready(self, task: TaskRecord) -> None:
        if task.cancelled:
            return
        self.ready_queue.append(task)
        self.schedule()

    def dep_locations(self, task: TaskRecord) -> list[tuple[str, tuple]]:
        return [(d, self.directory.location_of(d)) for d in task.deps]

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
            pool = self.placement.pool_for(task) if task.pg_id else self.node
            if pool is None:
                self.finish_with_error(task, _system_error(task, "its placement group was removed"))
                continue
            grant = pool.try_acquire(task.demand)
            if grant is None:
                no_room.append(task)
                continue
            self._dispatch(task, self.idle.popleft(), pool, grant)
        # tasks that have resources but no idle worker (a worker lent its CPU while
        # blocked in get, or zero-CPU tasks) get new workers, up to a cap
        startable = 0
        for task in itertools.islice(queue, 16):
            pool = self.placement.pool_for(task) if task.pg_id else self.node
            if pool is not None and pool.can_acquire(task.demand):
                startable += 1
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

    def _dispatch(self, task: TaskRecord, worker: processes.WorkerProcess, pool: ResourcePool,
                  grant: Grant) -> None:
        task.worker, task.pool, task.grant = worker, pool, grant
        worker.task = task
        fn_bytes = None
        if task.fn_id not in worker.known_functions:
            fn_bytes = self.functions[task.fn_id]
            worker.known_functions.add(task.fn_id)
        worker.send(msgs.TaskSpec(task.task_id, task.fn_id, fn_bytes, task.args, self.dep_locations(task),
                                  task.return_ids, task.env_for(grant), grant.gpu_ids, task.name))

    def _on_task_done(self, worker: processes.WorkerProcess, task_id: str, outputs: list | None,
                      error: tuple | None) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            return
        if task.kind == "call":
            self.actors.on_call_done(task, outputs, error)
            return
        self._release_worker(worker, task)
        if error is not None and task.should_retry_exception(error):
            task.retries_left -= 1
            self._enqueue_ready(task)
            return
        self.complete(task, outputs, error)

    def complete(self, task: TaskRecord, outputs: list | None, error: tuple | None) -> None:
        """Record a task's outputs (or its error in every output) and unpin its arguments."""
        if outputs is not None:
            for obj_id, location, contained in outputs:
                self.directory.created(obj_id, location, contained)
        else:
            for obj_id in task.return_ids:
                self.directory.set_error(obj_id, error)
        self.tasks.pop(task.task_id, None)
        for obj_id in task.pinned:
            self.directory.change_refs(obj_id, -1)
        task.pinned = []

    def finish_with_error(self, task: TaskRecord, payload: tuple) -> None:
        self.complete(task, None, payload)

    def _release_worker(self, worker: processes.WorkerProcess, task: TaskRecord) -> None:
        self._unblock(worker)
        if task.grant is not None and task.pool is not None:
            task.pool.release(task.grant)
        task.grant = None
        worker.task = None
        if worker.alive and worker.actor_id is None:
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
            worker.kill()
        else:
            worker.send(msgs.Cancel(task.task_id))

    # ------------------------------------------------------------------ failures
    def _on_worker_death(self, worker: processes.WorkerProcess) -> None:
        if not worker.alive:
            return
        worker.alive = False
        try:
            self._sel.unregister(worker.conn.fileno())
        except (KeyError, ValueError, OSError):
            pass
        worker.conn.close()
        self.workers.pop(worker.worker_id, None)
        try:
            self.idle.remove(worker)
            self.num_task_workers -= 1
        except ValueError:
            if worker.actor_id is None and not self._closed:
                self.num_task_workers -= 1
        if self._closed:
            return
        for obj_id, count in worker.held_refs.items():  # refs the dead process held
            self.directory.change_refs(obj_id, -count)
        worker.held_refs.clear()
        exit_info = _exit_description(worker)
        if worker.actor_id is not None:
            self.actors.on_worker_death(worker, exit_info)
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
                self.finish_with_error(task, _system_error(
                    task, f"the worker running it died ({exit_info})", WorkerCrashedError))
        if self.num_task_workers < max(1, int(self.num_cpus)):
            self._spawn_task_worker()
        self.schedule()

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self.workers.values())
        self._wake()
        for worker in workers:
            worker.send(msgs.Exit())
        deadline = time.monotonic() + 2.0
        for worker in workers:
            try:
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001
                worker.kill()
                try:
                    worker.proc.wait(2.0)
                except Exception:  # noqa: BLE001
                    pass
        for worker in workers:
            try:
                worker.conn.close()
            except OSError:
                pass
        self._reader.join(timeout=2.0)
        self.logs.stop()
        shutil.rmtree(self.shm_dir, ignore_errors=True)
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        try:
            self.reaper.stdin.close()
            self.reaper.wait(2.0)
        except Exception:  # noqa: BLE001
            pass
        if object_ref_mod.tracker.on_pending == self._wake:
            object_ref_mod.tracker.on_pending = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


def _exit_description(worker: processes.WorkerProcess) -> str:
    try:
        code = worker.proc.wait(timeout=1.0)
    except Exception:  # noqa: BLE001
        return f"pid {worker.pid}"
    if code is not None and code < 0:
        import signal
        try:
            return f"pid {worker.pid} killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"pid {worker.pid} killed by signal {-code}"
    return f"pid {worker.pid} exited with code {code}"


def _system_error(task: TaskRecord, why: str, cls: type = WorkerCrashedError) -> tuple:
    return (dumps_exception(cls(f"task {task.name} failed: {why}")), "", task.name)


def default_object_store_memory() -> int:
    """30% of the machine's memory, capped by what /dev/shm can hold."""
    total = psutil.virtual_memory().total
    size = int(total * 0.3)
    try:
        shm = shutil.disk_usage("/dev/shm").total
        size = min(size, int(shm * 0.8))
    except OSError:
        pass
    return size
