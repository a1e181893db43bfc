"""Actor-pool map: a pool of actors, each holding the user's callable class, built once.

Each actor takes up to ``max_tasks_in_flight_per_actor`` calls at a time (queued in
the actor, so it never waits for the driver between two calls). The pool starts at
``min_size`` actors; the executor grows and shrinks it with
:func:`streamdata.exec.autoscaler.decide_scaling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamdata.exec.autoscaler import ActorPoolState
from streamdata.exec.interfaces import (
    ExecutionOptions,
    ExecutionResources,
    OpTask,
    PhysicalOperator,
)
from streamdata.exec.operators.map_operator import MapOperator
from streamdata.exec.operators.map_task import MapWorker
from streamdata.exec.operators.map_transformer import MapTransformer
from streamdata.exec.resources import placement_options
from streamdata.core import api as rt
from streamdata.errors import TaskError

_ACTOR_OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "max_restarts",
                      "max_task_retries", "scheduling_strategy", "runtime_env", "placement_group",
                      "placement_group_bundle_index", "accelerator_type")


@dataclass(slots=True)
class _Actor:
    handle: Any
    ready: bool = False
    in_flight: int = 0


class ActorPoolMapOperator(MapOperator):
    """Runs a :class:`MapTransformer` holding a callable class in a pool of actors.

    Args:
        name: display name.
        input_op: the operator feeding this one.
        transformer: the chain each call runs (its class stage is built once per actor).
        min_size: actors kept while work may come.
        max_size: most actors (None: as resources allow).
        max_tasks_in_flight_per_actor: calls queued per actor (default
            ``DataContext.actor_max_tasks_in_flight``).
        ray_remote_args: resources per actor (``num_cpus``, ``num_gpus``, ...); a
            ``ray_remote_args_fn`` in it is called per actor and its dict merged over them.
        initial_size: actors started first (default ``min_size``).
        max_concurrency: calls one actor runs at once, in threads (default 1).
        min_rows_per_bundle: coalesce inputs up to this many rows per call.
    """

    def __init__(self, name: str, input_op: PhysicalOperator, transformer: MapTransformer, *,
                 min_size: int = 1, max_size: int | None = None,
                 max_tasks_in_flight_per_actor: int | None = None,
                 ray_remote_args: dict[str, Any] | None = None, min_rows_per_bundle: int | None = None,
                 estimated_output_bytes_per_task: int | None = None,
                 initial_size: int | None = None, max_concurrency: int = 1) -> None:
        super().__init__(name, input_op, transformer, ray_remote_args=ray_remote_args,
                         min_rows_per_bundle=min_rows_per_bundle,
                         estimated_output_bytes_per_task=estimated_output_bytes_per_task)
        if min_size < 1 or (max_size is not None and max_size < min_size):
            raise ValueError(f"actor pool sizes must satisfy 1 <= min_size <= max_size, "
                             f"got ({min_size}, {max_size})")
        self.min_size = min_size
        self.max_size = max_size
        self._max_in_flight = max_tasks_in_flight_per_actor
        self.initial_size = max(min_size, initial_size or min_size)
        self.max_concurrency = max(1, max_concurrency)
        self._actors: list[_Actor] = []
        self._ready_tasks: dict[int, OpTask] = {}
        self._actor_class: Any = None
        self._released = False

    #: Ray's ``ActorPoolStrategy(enable_true_multi_threading=True)``: a synchronous UDF's
    #: calls run together in an actor's threads (else one at a time; see MapWorker)
    true_multi_threading: bool = False

    @property
    def max_tasks_in_flight_per_actor(self) -> int:
        if self._max_in_flight is not None:
            return self._max_in_flight
        ctx = self.options.data_context
        if ctx is None:
            return 4
        return max(1, getattr(ctx, "max_tasks_in_flight_per_actor", None)
                   or getattr(ctx, "actor_max_tasks_in_flight", 4))

    # ---- lifecycle
    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        remote = dict(self.ray_remote_args)
        args_fn = remote.pop("ray_remote_args_fn", None)
        if args_fn is not None:
            remote.update(args_fn())
        args = {k: v for k, v in remote.items() if k in _ACTOR_OPTION_KEYS}
        args.update(placement_options(self.options.data_context, args))
        res = self.per_task_resources()
        args["num_cpus"] = res.cpu
        if res.gpu:
            args["num_gpus"] = res.gpu
        # a dead actor restarts and its calls run again (every row exactly once)
        args.setdefault("max_restarts", 3)
        args.setdefault("max_task_retries", 3)
        self._actor_class = rt.remote(MapWorker).options(max_concurrency=self.max_concurrency,
                                                         **args)
        self.scale(self.initial_size)

    def scale(self, delta: int) -> None:
        """Start ``delta`` actors (> 0) or stop ``-delta`` idle ones (< 0)."""
        if delta > 0:
            if self._released or self._execution_finished:
                return
            for _ in range(delta):
                self._start_actor()
        elif delta < 0:
            idle = [a for a in self._actors if a.ready and a.in_flight == 0]
            for actor in idle[: -delta]:
                self._stop_actor(actor)

    def _start_actor(self) -> None:
        handle = self._actor_class.remote(self._transformer_ref, self._context_ref,
                                          true_multi_threading=self.true_multi_threading)
        actor = _Actor(handle=handle)
        self._actors.append(actor)
        ready_ref = handle.ready.remote()
        key = id(actor)

        def on_ready() -> None:
            self._ready_tasks.pop(key, None)
            if actor not in self._actors:
                return  # stopped before it came up
            try:
                rt.get(ready_ref)
            except Exception as exc:  # the user's constructor raised
                if isinstance(exc, TaskError) and exc.cause is not None:
                    raise TaskError.wrap(exc.cause, exc.remote_traceback, self.name) from None
                raise
            if actor in self._actors:
                actor.ready = True
                self._try_launch()

        self._ready_tasks[key] = OpTask(ready_ref, on_ready, cancel=lambda: None)

    def _stop_actor(self, actor: _Actor) -> None:
        if actor in self._actors:
            self._actors.remove(actor)
        self._ready_tasks.pop(id(actor), None)
        try:
            rt.kill(actor.handle)
        except Exception:  # noqa: BLE001 - already dead
            pass

    def _release_all(self) -> None:
        for actor in list(self._actors):
            self._stop_actor(actor)
        self._released = True

    def shutdown(self) -> None:
        super().shutdown()
        self._release_all()

    # ---- input
    def _capacity(self) -> int:
        return len(self._actors) * self.max_tasks_in_flight_per_actor - self._in_flight()

    def _in_flight(self) -> int:
        return sum(a.in_flight for a in self._actors)

    def should_add_input(self) -> bool:
        if self._execution_finished or self.order_window_full():
            return False
        return self.internal_queue_size() < max(1, self._capacity())

    def _parallelism(self) -> int:
        return max(1, len(self._actors)) * self.max_tasks_in_flight_per_actor

    def _try_launch(self) -> None:
        limit = self.max_tasks_in_flight_per_actor
        while self._queued and not self._execution_finished:
            ready = [a for a in self._actors if a.ready and a.in_flight < limit]
            if not ready:
                return
            actor = min(ready, key=lambda a: a.in_flight)
            bundle = self._queued.popleft()
            ctx = self._next_context()
            block_ref, out_ref = actor.handle.submit.options(num_returns=2).remote(
                ctx, *bundle.block_refs())
            actor.in_flight += 1

            def done(_idx: int, actor: _Actor = actor) -> None:
                actor.in_flight -= 1
                self._try_launch()
                if self._all_work_done():
                    self._release_all()

            self._register(ctx, bundle, block_ref, out_ref, on_done=done)

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        if self._all_work_done():
            self._release_all()

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        if not self._active:
            self._release_all()

    # ---- executor state
    def get_active_tasks(self) -> list[OpTask]:
        return list(self._active.values()) + list(self._ready_tasks.values())

    def num_active_tasks(self) -> int:
        return len(self._active)

    def completed(self) -> bool:
        return super().completed()

    def autoscaling_state(self, upstream_queued: int, can_afford_one_more: bool) -> ActorPoolState:
        """The pool's state for :func:`~streamdata.exec.autoscaler.decide_scaling`."""
        return ActorPoolState(
            min_size=self.min_size, max_size=self.max_size, num_actors=len(self._actors),
            num_pending=sum(1 for a in self._actors if not a.ready),
            num_idle=sum(1 for a in self._actors if a.ready and a.in_flight == 0),
            tasks_in_flight=self._in_flight(),
            max_tasks_in_flight_per_actor=self.max_tasks_in_flight_per_actor,
            queued_inputs=self.internal_queue_size() + upstream_queued,
            inputs_done=self.inputs_complete() or self._execution_finished,
            can_afford_one_more=can_afford_one_more)

    def num_actors(self) -> int:
        return len(self._actors)

    # ---- resources
    def per_actor_resources(self) -> ExecutionResources:
        return self.per_task_resources()

    def incremental_resource_usage(self) -> ExecutionResources:
        return ExecutionResources(object_store_memory=self.estimated_output_bytes_per_task())

    def current_resource_usage(self) -> ExecutionResources:
        per = self.per_actor_resources()
        n = len(self._actors)
        return ExecutionResources(cpu=per.cpu * n, gpu=per.gpu * n,
                                  object_store_memory=self.internal_queue_bytes())

    def base_resource_usage(self) -> ExecutionResources:
        return self.per_actor_resources().scale(self.min_size)

    def progress_str(self) -> str:
        ready = sum(1 for a in self._actors if a.ready)
        return (f"{ready}/{len(self._actors)} actors, {len(self._active)} active, "
                f"{self.internal_queue_size()} queued")

    def explain_lines(self) -> list[str]:
        per = self.per_actor_resources()
        size = f"{self.min_size}" if self.max_size == self.min_size else f"{self.min_size}..{self.max_size or 'auto'}"
        return [f"actors: {size}, {per.cpu:g} CPU{f', {per.gpu:g} GPU' if per.gpu else ''} each, "
                f"{self.max_tasks_in_flight_per_actor} calls in flight per actor"]
