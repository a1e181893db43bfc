"""The runtime API on a real Ray cluster: ``sd.init(backend="ray", address=...)``.

Every call maps one-to-one onto Ray Core, so the executor, the Dataset API and
user code run unchanged on a multi-node cluster (or KubeRay). Errors keep
streamdata's classes where Ray's differ in name (``GetTimeoutError``).
"""

from __future__ import annotations

from typing import Any

from streamdata.core.backend import Backend
from streamdata.errors import GetTimeoutError, TaskError


class RayBackend(Backend):
    """Ray Core behind streamdata's runtime API."""

    name = "ray"

    def __init__(self, ray_module: Any) -> None:
        self.ray = ray_module

    @classmethod
    def start(cls, *, address: str | None, num_cpus: float | None, num_gpus: float | None,
              resources: dict | None, object_store_memory: int | None, **kwargs: Any) -> "RayBackend":
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("backend='ray' needs Ray: pip install 'streamdata[ray]'") from exc
        if not ray.is_initialized():
            init_args: dict[str, Any] = {"address": address, "include_dashboard": False,
                                         "log_to_driver": True, **kwargs}
            if address in (None, "local"):  # a new local Ray instance takes the sizing arguments
                init_args.update(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                                 object_store_memory=object_store_memory)
            ray.init(**{k: v for k, v in init_args.items() if v is not None})
        return cls(ray)

    @staticmethod
    def attached() -> "RayBackend | None":
        """The backend when this process is a Ray worker or driver already connected."""
        import sys
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            return RayBackend(ray)
        return None

    # ---- the API
    def remote(self, *args: Any, **options: Any) -> Any:
        if "scheduling_strategy" in options:
            options["scheduling_strategy"] = self._strategy(options["scheduling_strategy"])
        return self.ray.remote(*args, **options)

    def get(self, refs: Any, timeout: float | None) -> Any:
        try:
            return self.ray.get(refs, timeout=timeout)
        except self.ray.exceptions.GetTimeoutError as exc:
            raise GetTimeoutError(str(exc)) from exc
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if not isinstance(cause, BaseException):
                raise
            # the same error as on the local runtime: the user's class, the remote
            # traceback once, and a name the caller (a Data operator) may replace
            raise TaskError.wrap(cause, getattr(exc, "traceback_str", "") or "",
                                 getattr(exc, "function_name", "") or "") from None

    def put(self, value: Any) -> Any:
        return self.ray.put(value)

    def wait(self, refs: list, num_returns: int, timeout: float | None, fetch_local: bool) -> tuple[list, list]:
        return self.ray.wait(list(refs), num_returns=num_returns, timeout=timeout, fetch_local=fetch_local)

    def cancel(self, ref: Any, force: bool, recursive: bool) -> None:
        self.ray.cancel(ref, force=force, recursive=recursive)

    def kill(self, actor: Any, no_restart: bool) -> None:
        self.ray.kill(actor, no_restart=no_restart)

    def exit_actor(self) -> None:
        self.ray.actor.exit_actor()

    def get_actor(self, name: str, namespace: str | None) -> Any:
        return self.ray.get_actor(name, namespace=namespace)

    def available_resources(self) -> dict:
        return self.ray.available_resources()

    def cluster_resources(self) -> dict:
        return self.ray.cluster_resources()

    def get_gpu_ids(self) -> list:
        return list(self.ray.get_gpu_ids())

    def object_store_stats(self) -> dict:
        total = self.ray.cluster_resources().get("object_store_memory", 0.0)
        free = self.ray.available_resources().get("object_store_memory", total)
        return {"used_bytes": int(total - free), "capacity_bytes": int(total), "spilled_bytes": 0,
                "spilled_total_bytes": 0, "num_objects": -1}

    def placement_group(self, bundles: list, strategy: str, name: str, **options: Any) -> Any:
        from ray.util import placement_group
        return placement_group(bundles, strategy=strategy, name=name,
                               **{k: v for k, v in options.items() if v is not None})

    def remove_placement_group(self, pg: Any) -> None:
        from ray.util import remove_placement_group
        remove_placement_group(pg)

    def placement_group_table(self, pg: Any) -> dict:
        from ray.util import placement_group_table
        return placement_group_table(pg)

    def is_ref(self, value: Any) -> bool:
        return isinstance(value, self.ray.ObjectRef)

    def shutdown(self) -> None:
        self.ray.shutdown()

    def _strategy(self, strategy: Any) -> Any:
        from streamdata.core.placement_group import PlacementGroupSchedulingStrategy
        if isinstance(strategy, PlacementGroupSchedulingStrategy):
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy as RayPGStrategy
            return RayPGStrategy(strategy.placement_group, strategy.placement_group_bundle_index,
                                 strategy.placement_group_capture_child_tasks)
        from streamdata.core import scheduling_strategies as ours
        if isinstance(strategy, ours.NodeAffinitySchedulingStrategy):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            return NodeAffinitySchedulingStrategy(strategy.node_id, strategy.soft)
        if isinstance(strategy, ours.NodeLabelSchedulingStrategy):
            from ray.util import scheduling_strategies as theirs

            def convert(constraints: dict) -> dict:
                return {k: getattr(theirs, type(op).__name__)(*op.values) for k, op in constraints.items()}
            return theirs.NodeLabelSchedulingStrategy(convert(strategy.hard), soft=convert(strategy.soft) or None)
        return strategy
