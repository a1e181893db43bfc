"""The driver's side of actors: placement, creation, ordered calls, restarts, death.

An actor lives in a dedicated worker process. Its calls are sent in submission
order, each once its arguments are ready (a call waits for the calls before it:
head-of-line order, as Ray's ordered actor queues). When the process dies the
actor restarts (``max_restarts``, -1 for no limit) and calls that were in flight
are retried (``max_task_retries``) or fail with ``ActorDiedError``. An actor created
by a worker dies with that worker's process, unless it is detached (as in Ray).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from streamdata.core import protocol as msgs
from streamdata.core.events import KillWorker, Send
from streamdata.core.serialization import dumps_exception
from streamdata.core.host import StateHost
from streamdata.core.tasks import TaskRecord, WorkerState
from streamdata.errors import (ActorAlreadyExistsError, ActorDiedError, InfeasibleResourceError,
                               RuntimeEnvSetupError, TaskCancelledError)



class ActorRecord:
    __slots__ = ("actor_id", "spec", "name", "state", "worker", "pool", "grant", "queue", "ready_calls",
                 "inflight", "restarts", "no_restart", "death_cause", "creation", "death_class",
                 "handles_gone", "exit_reason")

    def __init__(self, spec: dict, creation: TaskRecord) -> None:
        self.actor_id: str = spec["actor_id"]
        self.spec = spec
        self.name: str | None = spec.get("actor_name")
        self.state = "pending"
        self.worker: WorkerState | None = None
        self.pool: Any = None
        self.grant: Any = None
        self.queue: deque[TaskRecord] = deque()
        self.ready_calls: set[str] = set()
        self.inflight: dict[str, TaskRecord] = {}
        self.restarts = 0
        self.no_restart = False
        self.death_cause: str = ""
        self.creation = creation
        self.death_class: type = ActorDiedError
        #: every handle to it is gone: it exits once its calls are done (unless named/detached)
        self.handles_gone = False
        #: why it was told to exit (its death then reports this, not a crash)
        self.exit_reason = ""

    @property
    def max_restarts(self) -> int:
        return self.spec.get("max_restarts", 0)


class ActorManager:
    def __init__(self, rt: StateHost) -> None:
        self.rt = rt
        self.actors: dict[str, ActorRecord] = {}
        self.named: dict[str, str] = {}
        self.pending: list[ActorRecord] = []

    # ---- creation
    def create(self, spec: dict) -> None:
        name = spec.get("actor_name")
        if name:
            existing = self.named.get(name)
            if existing is not None and self.actors[existing].state != "dead":
                raise ActorAlreadyExistsError(f"an actor named {name!r} already exists")
        creation = TaskRecord(dict(spec, kind="actor", return_ids=[]))
        actor = ActorRecord(spec, creation)
        self.actors[actor.actor_id] = actor
        if name:
            self.named[name] = actor.actor_id
        elif not spec.get("detached"):  # an anonymous actor lives while a handle to it does
            self.rt.directory.track_actor(actor.actor_id)
        for obj_id in creation.pinned:  # kept for restarts until the actor is dead
            self.rt.directory.change_refs(obj_id, +1)
        why = creation.env_error or self.rt.infeasible(creation)
        if why is not None:  # its runtime_env cannot be set up, or no resource can host it: its calls fail
            actor.death_class = RuntimeEnvSetupError if creation.env_error else InfeasibleResourceError
            self._die(actor, why)
            return
        self.rt.resolve_then(creation, lambda: self._try_place(actor))

    def _try_place(self, actor: ActorRecord) -> None:
        if actor.state == "dead":
            return
        pool = self.rt.placement.pool_for(actor.creation) if actor.creation.pg_id else self.rt.node
        if pool is None:
            self._die(actor, "its placement group was removed")
            return
        grant = pool.try_acquire(actor.creation.demand)
        if grant is None:
            if actor not in self.pending:
                self.pending.append(actor)
            return
        actor.pool, actor.grant = pool, grant
        self._start_process(actor)

    def retry_pending(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        for actor in pending:
            self._try_place(actor)

    def _start_process(self, actor: ActorRecord) -> None:
        rt = self.rt
        env = actor.creation.env_for(actor.grant)
        worker = None if env else rt.take_idle_worker()
        if worker is None:
            worker = rt.spawn_worker(env)
        worker.actor_id = actor.actor_id
        actor.worker = worker
        actor.state = "starting"
        spec = actor.spec
        fn_bytes = None
        if spec["fn_id"] not in worker.known_functions:
            fn_bytes = rt.functions[spec["fn_id"]]
            worker.known_functions.add(spec["fn_id"])
        rt.emit(Send(worker.worker_id, msgs.ActorInit(actor.actor_id, spec["fn_id"], fn_bytes, spec["args"],
                                   rt.dep_locations(actor.creation), env, actor.grant.gpu_ids, spec["name"],
                                   spec.get("max_concurrency", 1), spec.get("is_async", False),
                                   dict(actor.grant.amounts), actor.restarts,
                                   spec.get("concurrency_groups"), actor.name or "", actor.grant.ids)))
        rt.refill_task_workers()

    def on_ready(self, actor_id: str, worker: WorkerState) -> None:
        actor = self.actors.get(actor_id)
        if actor is None or actor.worker is not worker:
            return
        actor.state = "alive"
        self._pump(actor)

    def on_failed(self, actor_id: str, payload: tuple) -> None:
        actor = self.actors.get(actor_id)
        if actor is None:
            return
        _, tb, _ = payload
        actor.no_restart = True
        worker = actor.worker
        self._die(actor, f"its constructor raised:\n{tb}")
        if worker is not None:
            self.rt.emit(KillWorker(worker.worker_id))

    # ---- calls
    def enqueue_call(self, task: TaskRecord) -> None:
        actor = self.actors.get(task.actor_id or "")
        if actor is None or actor.state == "dead":
            cause = actor.death_cause if actor is not None else "it does not exist"
            self.rt.finish_with_error(task, _died(task, actor, cause))
            return
        actor.queue.append(task)

        def ready() -> None:
            actor.ready_calls.add(task.task_id)
            self._pump(actor)

        self.rt.resolve_then(task, ready)

    def _pump(self, actor: ActorRecord) -> None:
        if actor.state != "alive" or actor.worker is None:
            return
        rt = self.rt
        while actor.queue and actor.queue[0].task_id in actor.ready_calls:
            task = actor.queue.popleft()
            actor.ready_calls.discard(task.task_id)
            if task.cancelled:
                continue
            task.worker = actor.worker
            actor.inflight[task.task_id] = task
            rt.task_log.started(task.task_id, task.name, actor.worker.worker_id, actor.actor_id)
            rt.emit(Send(actor.worker.worker_id, msgs.TaskSpec(
                task.task_id, task.method, None, task.args, rt.dep_locations(task), task.return_ids, None,
                actor.grant.gpu_ids, task.name, True, dict(actor.grant.amounts),
                task.spec.get("streaming", False), actor.grant.ids)))

    def on_call_done(self, task: TaskRecord, outputs: list | None, error: tuple | None) -> None:
        actor = self.actors.get(task.actor_id or "")
        if actor is not None:
            actor.inflight.pop(task.task_id, None)
        self.rt.complete(task, outputs, error)
        if actor is not None and actor.handles_gone:
            self._reclaim_if_idle(actor)

    # ---- reclamation (Ray: an actor exits when every handle to it is gone)
    def on_handles_released(self, actor_id: str) -> None:
        """The last handle to ``actor_id`` is gone: it exits once its queued calls are done."""
        actor = self.actors.get(actor_id)
        if actor is None or actor.state == "dead":
            return
        actor.handles_gone = True
        self._reclaim_if_idle(actor)

    def _reclaim_if_idle(self, actor: ActorRecord) -> None:
        if actor.state == "dead" or actor.queue or actor.inflight:
            return
        actor.no_restart = True
        actor.exit_reason = "every handle to it went out of scope"
        if actor.worker is not None and actor.state in ("starting", "alive"):
            self.rt.emit(KillWorker(actor.worker.worker_id))  # its death comes back as WorkerDied
        else:
            self._die(actor, actor.exit_reason)

    def cancel_call(self, task: TaskRecord, force: bool, payload: tuple) -> None:
        actor = self.actors.get(task.actor_id or "")
        task.cancelled = True
        if actor is not None and task.task_id in actor.inflight:
            if force:
                raise ValueError("force=True is not supported for actor tasks (as in Ray); "
                                 "use sd.kill(actor) instead")
            self.rt.emit(Send(actor.worker.worker_id, msgs.Cancel(task.task_id)))
            return
        if actor is not None and task in actor.queue:
            actor.queue.remove(task)
        self.rt.finish_with_error(task, payload)
        if actor is not None and actor.handles_gone:
            self._reclaim_if_idle(actor)

    # ---- death and restarts
    def kill(self, actor_id: str, no_restart: bool) -> None:
        actor = self.actors.get(actor_id)
        if actor is None or actor.state == "dead":
            return
        actor.no_restart = no_restart
        if actor.worker is not None and actor.state in ("starting", "alive"):
            self.rt.emit(KillWorker(actor.worker.worker_id))  # its death comes back as WorkerDied
        else:
            self._die(actor, "it was killed with sd.kill()")

    def exit_intentionally(self, actor_id: str) -> None:
        """The actor called ``exit_actor()``: its process ends next, and the actor with it."""
        actor = self.actors.get(actor_id)
        if actor is not None and actor.state != "dead":
            actor.no_restart = True
            actor.exit_reason = "it exited itself with exit_actor()"

    def kill_in_placement_group(self, pg_id: str) -> None:
        for actor in list(self.actors.values()):
            if actor.creation.pg_id == pg_id and actor.state != "dead":
                actor.no_restart = True
                if actor.worker is not None:
                    self.rt.emit(KillWorker(actor.worker.worker_id))
                else:
                    self._die(actor, "its placement group was removed")

    def on_owner_death(self, owner_id: str, exit_info: str) -> None:
        """End the actors the process ``owner_id`` created, unless detached (Ray's fate
        sharing: an actor dies with its owner, whatever its ``max_restarts``)."""
        why = f"the worker that created it died ({exit_info}); only a detached actor outlives its creator"
        for actor in list(self.actors.values()):
            if actor.creation.owner != owner_id or actor.spec.get("detached") or actor.state == "dead":
                continue
            actor.no_restart = True
            actor.exit_reason = why
            if actor.worker is not None and actor.state in ("starting", "alive"):
                self.rt.emit(KillWorker(actor.worker.worker_id))  # its death comes back as WorkerDied
            else:
                self._die(actor, why)

    def on_worker_death(self, worker: WorkerState, exit_info: str) -> None:
        actor = self.actors.get(worker.actor_id or "")
        if actor is None or actor.worker is not worker or actor.state == "dead":
            return
        actor.worker = None
        max_restarts = actor.max_restarts
        can_restart = not actor.no_restart and (max_restarts < 0 or actor.restarts < max_restarts)
        if not can_restart:
            why = (actor.exit_reason or "it was killed with sd.kill()") if actor.no_restart else (
                f"its process died ({exit_info})")
            self._die(actor, why)
            return
        actor.restarts += 1
        actor.state = "restarting"
        retries = actor.spec.get("max_task_retries", 0)
        retry_calls = []
        for task in list(actor.inflight.values()):
            if task.retries_left != 0 and retries != 0:
                task.retries_left -= 1
                retry_calls.append(task)
                actor.ready_calls.add(task.task_id)
            else:
                self.rt.finish_with_error(task, _died(task, actor, f"its process died ({exit_info}) "
                                                     "while running this call"))
        actor.inflight.clear()
        actor.queue.extendleft(reversed(retry_calls))
        self._start_process(actor)

    def _die(self, actor: ActorRecord, why: str) -> None:
        rt = self.rt
        actor.state = "dead"
        actor.death_cause = why
        if actor in self.pending:
            self.pending.remove(actor)
        if actor.grant is not None and actor.pool is not None:
            actor.pool.release(actor.grant)
            actor.grant = None
        for task in list(actor.inflight.values()) + list(actor.queue):
            rt.finish_with_error(task, _died(task, actor, why))
        actor.inflight.clear()
        actor.queue.clear()
        for obj_id in actor.creation.pinned:
            rt.directory.change_refs(obj_id, -1)
        actor.creation.pinned = []
        if actor.name and self.named.get(actor.name) == actor.actor_id:
            del self.named[actor.name]
        rt.schedule()

    def lookup(self, name: str) -> dict:
        actor_id = self.named.get(name)
        if actor_id is None:
            raise ValueError(f"no actor named {name!r} (named actors alive: {sorted(self.named)})")
        spec = self.actors[actor_id].spec
        return {"actor_id": actor_id, "class_name": spec["name"], "methods": spec.get("methods", {}),
                "is_async": spec.get("is_async", False)}

    def describe_for_kill(self, actor_id: str) -> tuple[str, bool]:
        """The memory monitor's view of an actor: its name, and whether a kill restarts it."""
        actor = self.actors.get(actor_id)
        if actor is None:
            return f"actor {actor_id}", False
        restartable = not actor.no_restart and (actor.max_restarts < 0 or actor.restarts < actor.max_restarts)
        return f"actor {actor.spec['name']}", restartable

    def state_of(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return actor.state if actor is not None else "dead"


def _died(task: TaskRecord, actor: ActorRecord | None, why: str) -> tuple:
    name = actor.spec["name"] if actor is not None else "actor"
    cls = actor.death_class if actor is not None else ActorDiedError
    err = cls(f"{task.name}: the actor {name} died: {why}")
    if task.cancelled:
        err = TaskCancelledError(f"{task.name} was cancelled")
    return (dumps_exception(err), "", task.name)
