"""Task-pool map: each (coalesced) input bundle runs as one remote task.

Also the operator of reads (its first stage turns read tasks into blocks) and of
writes (its last stage hands blocks to the datasink).
"""

from __future__ import annotations

from typing import Any

from streamdata.exec.interfaces import (
    ExecutionOptions,
    ExecutionResources,
    PhysicalOperator,
)
from streamdata.exec.operators.map_operator import MapOperator
from streamdata.exec.operators.map_task import map_task_entry
from streamdata.exec.operators.map_transformer import MapTransformer
from streamdata.exec.resources import placement_options
from streamdata.core import api as rt

_TASK_OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "max_retries",
                     "retry_exceptions", "scheduling_strategy", "runtime_env", "placement_group",
                     "placement_group_bundle_index", "accelerator_type")


class TaskPoolMapOperator(MapOperator):
    """Runs a :class:`MapTransformer` as stateless remote tasks.

    Args:
        name: display name.
        input_op: the operator feeding this one.
        transformer: the chain each task runs.
        ray_remote_args: ``num_cpus``, ``num_gpus``, ``memory``, ``resources``... per task.
        concurrency: at most this many tasks in flight (None: as resources allow).
        min_rows_per_bundle: coalesce inputs up to this many rows per task.
        estimated_output_bytes_per_task: the guess used before the first task finished.
    """

    def __init__(self, name: str, input_op: PhysicalOperator, transformer: MapTransformer, *,
                 ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                 min_rows_per_bundle: int | None = None,
                 estimated_output_bytes_per_task: int | None = None) -> None:
        super().__init__(name, input_op, transformer, ray_remote_args=ray_remote_args,
                         min_rows_per_bundle=min_rows_per_bundle,
                         estimated_output_bytes_per_task=estimated_output_bytes_per_task)
        self.concurrency = concurrency
        #: set by the executor when actor pools hold every CPU: tasks then ask for 0 CPUs
        #: and at most this many run at once (see exec/resources.py)
        self.cpu_oversubscription_cap: int | None = None
        self._remote_fn: Any = None
        self._remote_fn_zero_cpu: Any = None
        self._args_fn: Any = None

    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        self._args_fn = self.ray_remote_args.get("ray_remote_args_fn")
        self._remote_fn, self._remote_fn_zero_cpu = self._remote_fns({})

    def _remote_fns(self, dynamic: dict[str, Any]) -> tuple[Any, Any]:
        """The task function with this operator's options (``dynamic`` merged over them)."""
        remote = {**self.ray_remote_args, **dynamic}
        args = {k: v for k, v in remote.items() if k in _TASK_OPTION_KEYS}
        args.update(placement_options(self.options.data_context, args))
        res = self.per_task_resources()
        args.setdefault("num_cpus", res.cpu)
        args.setdefault("max_retries", 3)
        fn = rt.remote(map_task_entry).options(num_returns=2, **args)
        return fn, rt.remote(map_task_entry).options(num_returns=2, **dict(args, num_cpus=0))

    def should_add_input(self) -> bool:
        return self._has_room()

    def _has_room(self) -> bool:
        limit = self.concurrency
        if self.cpu_oversubscription_cap is not None:
            limit = self.cpu_oversubscription_cap if limit is None else min(limit, self.cpu_oversubscription_cap)
        if self.order_window_full():
            return False
        return limit is None or len(self._active) < limit

    def _parallelism(self) -> int:
        caps = [c for c in (self.concurrency, self.cpu_oversubscription_cap) if c is not None]
        return min(caps) if caps else super()._parallelism()

    def _try_launch(self) -> None:
        while self._queued and self._has_room() and not self._execution_finished:
            bundle = self._queued.popleft()
            ctx = self._next_context()
            fns = (self._remote_fn, self._remote_fn_zero_cpu)
            if self._args_fn is not None:  # Ray calls it before each task
                fns = self._remote_fns(dict(self._args_fn()))
            fn = fns[1] if self.cpu_oversubscription_cap is not None else fns[0]
            block_ref, out_ref = fn.remote(self._transformer_ref, ctx, self._context_ref,
                                           *bundle.block_refs())
            self._register(ctx, bundle, block_ref, out_ref, on_done=lambda _idx: self._try_launch())

    # ---- resources
    def incremental_resource_usage(self) -> ExecutionResources:
        res = self.per_task_resources()
        if self.cpu_oversubscription_cap is not None:
            res = ExecutionResources(cpu=0.0, gpu=res.gpu)
        return ExecutionResources(cpu=res.cpu, gpu=res.gpu,
                                  object_store_memory=self.estimated_output_bytes_per_task())

    def current_resource_usage(self) -> ExecutionResources:
        per = self.incremental_resource_usage()
        n = len(self._active)
        return ExecutionResources(cpu=per.cpu * n, gpu=per.gpu * n,
                                  object_store_memory=self.internal_queue_bytes())

    def explain_lines(self) -> list[str]:
        res = self.per_task_resources()
        lines = [f"tasks: {res.cpu:g} CPU{f', {res.gpu:g} GPU' if res.gpu else ''} each"
                 + (f", at most {self.concurrency} at once" if self.concurrency else "")]
        return lines  # the CPU oversubscription note is added by whoever applied it
