"""The runtime API on the embedded runtime: this driver's runtime, or the driver's from a worker.

Example:
    >>> from streamdata.core.backends.local import LocalBackend
    >>> LocalBackend.name
    'local'
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

from streamdata.core.actor import ActorClass, ActorHandle
from streamdata.core.backend import Backend
from streamdata.core.client import ClientBase
from streamdata.core.object_ref import ObjectRef, ObjectRefGenerator
from streamdata.core.placement_group import PlacementGroup
from streamdata.core.remote_function import RemoteFunction
from streamdata.core.resources import infeasible_reason
from streamdata.errors import GetTimeoutError, InfeasibleResourceError


class LocalBackend(Backend):
    """Ray Core's API on the embedded runtime, through this process's client."""

    name = "local"

    def __init__(self, client: ClientBase) -> None:
        self.client = client

    def remote(self, *args: Any, **options: Any) -> Any:
        return self.make_remote(*args, **options)

    @staticmethod
    def make_remote(*args: Any, **options: Any) -> Any:
        """A ``RemoteFunction`` or ``ActorClass`` (bound to no runtime until ``.remote()``)."""
        def make(target: Any) -> Any:
            if isinstance(target, type):
                return ActorClass(target, options)
            if callable(target):
                if (options.get("num_gpus") or 0) > 0 and options.get("max_calls") is None:
                    # as Ray: a GPU function's worker leaves after each run, freeing what it
                    # held on the GPU (``max_calls=0`` keeps it)
                    return RemoteFunction(target, {**options, "max_calls": 1})
                return RemoteFunction(target, options)
            raise TypeError(f"@remote applies to functions and classes, not {type(target).__name__}")

        if len(args) == 1 and not options and callable(args[0]):
            return make(args[0])
        if args:
            raise TypeError("use @remote or @remote(option=value, ...)")
        return make

    def check_feasible(self, what: str, demand: dict[str, float]) -> None:
        why = infeasible_reason(what, demand, self.client.call("cluster_resources"))
        if why is not None:
            raise InfeasibleResourceError(why)

    def get(self, refs: Any, timeout: float | None) -> Any:
        ref_list, single = _as_ref_list(refs, "get()")
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        try:
            values = self.client.get_values([r.id for r in ref_list], timeout)
        except GetTimeoutError:
            raise GetTimeoutError(f"get() timed out after {timeout} s waiting for {len(ref_list)} object(s)") from None
        return values[0] if single else values

    def put(self, value: Any) -> ObjectRef:
        return self.client.put(value)

    def wait(self, refs: Any, num_returns: int, timeout: float | None,
             fetch_local: bool) -> tuple[list, list]:
        if isinstance(refs, ObjectRefGenerator):
            raise TypeError("wait() expects a list of ObjectRefs or ObjectRefGenerators, not a single one")
        generators = [r for r in refs if isinstance(r, ObjectRefGenerator)] if isinstance(refs, (list, tuple)) else []
        ref_list, single = _as_ref_list([r for r in refs if not isinstance(r, ObjectRefGenerator)]
                                        if generators else refs, "wait()")
        if single:
            raise TypeError("wait() expects a list of ObjectRefs, not a single ObjectRef")
        waitables = list(refs) if generators else ref_list
        keys = [_wait_key(r) for r in waitables]
        if len(set(keys)) != len(keys):
            raise ValueError("wait() got duplicate ObjectRefs")
        if not waitables:
            return [], []
        if not 0 <= num_returns <= len(waitables):
            raise ValueError(f"num_returns={num_returns} must be between 0 and len(refs)={len(waitables)}")
        if num_returns == 0:
            return [], waitables
        ready_keys = self.client.call("wait", keys, num_returns, timeout)
        chosen = [i for i, key in enumerate(keys) if key in ready_keys][:num_returns]
        picked = set(chosen)
        return [waitables[i] for i in chosen], [w for i, w in enumerate(waitables) if i not in picked]

    def cancel(self, ref: Any, force: bool, recursive: bool) -> None:
        if isinstance(ref, ObjectRefGenerator):  # cancels the generator task itself
            ref = ref.completed()
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"cancel() expects an ObjectRef or ObjectRefGenerator, got {type(ref).__name__}")
        self.client.call("cancel", ref.id, force)

    def kill(self, actor: Any, no_restart: bool) -> None:
        if not isinstance(actor, ActorHandle):
            raise TypeError(f"kill() expects an actor handle, got {type(actor).__name__}")
        self.client.call("kill", actor._actor_id, no_restart)

    def exit_actor(self) -> None:
        actor = getattr(self.client, "actor_info", None)  # (id, name, resources, restarted) in an actor
        if actor is None:
            raise TypeError("exit_actor() ends the actor whose code calls it; it was called outside an actor")
        self.client.call("exit_actor", actor[0])  # no restart, and its death says why
        atexit._run_exitfuncs()  # as a process that exits: the actor's atexit handlers run
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def get_actor(self, name: str, namespace: str | None) -> ActorHandle:
        info = self.client.call("get_actor", name, namespace)
        return ActorHandle(info["actor_id"], info["class_name"], info["methods"])

    def available_resources(self) -> dict[str, float]:
        return self.client.call("available_resources")

    def cluster_resources(self) -> dict[str, float]:
        return self.client.call("cluster_resources")

    def get_gpu_ids(self) -> list:
        return self.client.get_gpu_ids()

    def object_store_stats(self) -> dict[str, int]:
        return self.client.call("store_stats")

    def placement_group(self, bundles: list[dict[str, float]], strategy: str, name: str,
                        **options: Any) -> PlacementGroup:
        client = self.client
        pg_id = "pg" + client.new_id()
        ready_id = client.new_id()
        pg = PlacementGroup(pg_id, bundles, strategy, ready_id)
        client.call("pg_create", pg_id, ready_id, bundles, strategy, name)
        return pg

    def remove_placement_group(self, pg: Any) -> None:
        self.client.call("pg_remove", pg.id)

    def placement_group_table(self, pg: Any) -> dict:
        return self.client.call("pg_table", pg.id)

    def is_ref(self, value: Any) -> bool:
        return isinstance(value, ObjectRef)

    def shutdown(self) -> None:
        shutdown = getattr(self.client, "shutdown", None)
        if shutdown is not None:
            shutdown()


def _wait_key(waitable: Any) -> Any:
    """What ``wait`` asks the driver about: an object id, or a generator's cursor."""
    if isinstance(waitable, ObjectRefGenerator):
        return ("gen", waitable.completed().id, waitable._next) if not waitable.is_finished() else \
            waitable.completed().id
    return waitable.id


def _as_ref_list(refs: Any, what: str) -> tuple[list[ObjectRef], bool]:
    if isinstance(refs, ObjectRef):
        return [refs], True
    if isinstance(refs, (list, tuple)):
        bad = [r for r in refs if not isinstance(r, ObjectRef)]
        if bad:
            raise TypeError(f"{what} expects ObjectRefs; got {type(bad[0]).__name__}")
        return list(refs), False
    raise TypeError(f"{what} expects an ObjectRef or a list of ObjectRefs, got {type(refs).__name__}")
