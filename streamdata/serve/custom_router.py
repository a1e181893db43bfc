"""The caller's router of a deployment with a custom ``RequestRouter``
(``request_router_config``): the same slots, queue, back-pressure and retries as
:class:`~streamdata.serve.router.Router`, but each request's replica comes from the
user's ``choose_replicas``: of the first rank with a replica that has a free slot, the
least loaded (:func:`~streamdata.serve.request_router.pick_from_ranks`). When none of
the ranks has one, the request waits in the router's queue until a slot frees or the
config's back-off passes (``initial_backoff_s``, times ``backoff_multiplier`` each time,
at most ``max_backoff_s``), and the router is asked again.

Every ``request_routing_stats_period_s`` (and at once for a replica it has not seen)
it asks each replica for its ``record_routing_stats()`` and loaded multiplexed models
(a ``routing_stats`` control request, not counted as a request of the replica), which
the ``RunningReplica``'s ``routing_stats`` and ``multiplexed_model_ids`` show.
Deployments without a custom router use the plain :class:`Router`.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from typing import Any, AsyncIterator

from streamdata.serve import wire
from streamdata.serve.context import DeploymentID, ReplicaID
from streamdata.serve.request_router import (
    LOCAL_NODE_ID,
    PendingRequest,
    RequestMetadata,
    RunningReplica,
    backoff_s,
    pick_from_ranks,
)
from streamdata.serve.request_router_config import RequestRouterConfig
from streamdata.serve.router import ReplicaInfo, Router, _Slot

#: the request being routed, with the router routing it (the request's task sets it)
_current: contextvars.ContextVar[tuple[Router, PendingRequest] | None] = contextvars.ContextVar(
    "streamdata_serve_pending_request", default=None)


class CustomRouter(Router):
    """A :class:`Router` that asks the deployment's ``RequestRouter`` where each request goes."""

    def __init__(self, app_name: str, deployment_name: str, config: RequestRouterConfig, **kwargs: Any) -> None:
        super().__init__(app_name, deployment_name, **kwargs)
        self.router_config = config
        self._deployment_id = DeploymentID(deployment_name, app_name)
        self.policy = config.get_request_router_class()(
            deployment_id=self._deployment_id, self_node_id=LOCAL_NODE_ID, initial_backoff_s=config.initial_backoff_s,
            backoff_multiplier=config.backoff_multiplier, max_backoff_s=config.max_backoff_s)
        self.policy._queue_len = self._load
        self.policy.initialize_state(**config.request_router_kwargs)
        self._replicas: dict[str, RunningReplica] = {}  # by replica id
        self._by_id: dict[ReplicaID, _Slot] = {}
        self._poller: asyncio.Task | None = None
        self._collecting: set[asyncio.Task] = set()

    # ---- replicas
    def update(self, replicas: Any, max_ongoing_requests: int | None = None,
               max_queued_requests: int | None = None, queue_report_interval_s: float | None = None) -> None:
        super().update(replicas, max_ongoing_requests, max_queued_requests, queue_report_interval_s)
        if self.closed:
            return
        known = self._replicas
        wrappers: dict[str, RunningReplica] = {}
        new_slots = []
        for slot in self._slots:
            rid = slot.info.replica_id
            wrapper = known.get(rid)
            if wrapper is None:
                wrapper = RunningReplica(ReplicaID(rid, self._deployment_id))
                new_slots.append(slot)
            wrapper._max_ongoing_requests = self.max_ongoing_requests
            wrappers[rid] = wrapper
        self._replicas = wrappers
        self._by_id = {w.replica_id: s for s, w in zip(self._slots, wrappers.values())}
        self.policy.update_replicas(list(wrappers.values()))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the client's loop (a test): no stats
            return
        if new_slots:
            self._spawn(loop, self._collect(new_slots))
        if self._poller is None:
            self._poller = loop.create_task(self._poll_stats())

    def _on_lost(self, conn: Any) -> None:
        super()._on_lost(conn)
        wrapper = self._replicas.pop(conn.replica_id, None)
        if wrapper is not None:
            self._by_id.pop(wrapper.replica_id, None)
            self.policy.on_replica_actor_died(wrapper.replica_id)

    def _load(self, replica_id: ReplicaID) -> int | None:
        """This router's requests on a replica (its max when it refused one lately)."""
        slot = self._by_id.get(replica_id)
        if slot is None:
            return None
        return slot.ongoing if slot.full_until <= time.monotonic() else self.max_ongoing_requests

    # ---- routing stats
    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Any) -> None:
        task = loop.create_task(coro)
        self._collecting.add(task)
        task.add_done_callback(self._collecting.discard)

    async def _poll_stats(self) -> None:
        period = self.router_config.request_routing_stats_period_s
        while not self.closed:
            await asyncio.sleep(period)
            if not self.closed:
                await self._collect(list(self._slots))

    async def _collect(self, slots: list[_Slot]) -> None:
        """Ask ``slots``' replicas for their routing stats (a replica that fails or takes
        longer than ``request_routing_stats_timeout_s`` keeps the stats it had)."""
        timeout = self.router_config.request_routing_stats_timeout_s
        answers = await asyncio.gather(*(asyncio.wait_for(s.conn.call("routing_stats", kind=wire.CONTROL), timeout)
                                         for s in slots), return_exceptions=True)
        models_changed = False
        for slot, answer in zip(slots, answers):
            wrapper = self._replicas.get(slot.info.replica_id)
            if wrapper is None or not isinstance(answer, dict):
                continue
            wrapper._routing_stats = answer["stats"]
            models = set(answer["models"])
            if models != wrapper._multiplexed_model_ids:
                wrapper._multiplexed_model_ids = models
                models_changed = True
        if models_changed and not self.closed:
            self.policy.update_replicas(list(self._replicas.values()))

    # ---- requests
    def _pending_request(self, method: str, args: tuple, kwargs: dict, options: dict[str, Any],
                         streaming: bool) -> PendingRequest:
        metadata = RequestMetadata(request_id=options.get("request_id", ""), internal_request_id=uuid.uuid4().hex,
                                   call_method=method, route=options.get("route", ""), app_name=self.app_name,
                                   multiplexed_model_id=options.get("model_id", ""),
                                   session_id=options.get("session_id", ""), is_streaming=streaming)
        return PendingRequest(list(args), dict(kwargs), metadata)

    async def call(self, method: str, args: tuple, kwargs: dict, **options: Any) -> Any:
        token = _current.set((self, self._pending_request(method, args, kwargs, options, False)))
        try:
            return await super().call(method, args, kwargs, **options)
        finally:
            _current.reset(token)

    async def stream(self, method: str, args: tuple, kwargs: dict, **options: Any) -> AsyncIterator[Any]:
        token = _current.set((self, self._pending_request(method, args, kwargs, options, True)))
        try:
            async for item in super().stream(method, args, kwargs, **options):
                yield item
        finally:
            try:
                _current.reset(token)
            except ValueError:  # closed from another context: nothing of ours is set there
                pass

    def _pending_here(self, model_id: str, session_id: str) -> PendingRequest:
        current = _current.get()
        if current is not None and current[0] is self:
            return current[1]
        return PendingRequest([], {}, RequestMetadata(internal_request_id=uuid.uuid4().hex, app_name=self.app_name,
                                                      multiplexed_model_id=model_id, session_id=session_id))

    async def _acquire(self, model_id: str, session_id: str = "", refused: bool = False) -> _Slot:
        if self.closed:
            raise RuntimeError(f"deployment {self.deployment_name!r} of application {self.app_name!r} was deleted")
        pending = self._pending_here(model_id, session_id)
        config = self.router_config
        slot = await self._choose(pending) if not self._waiters else None
        attempt = 0
        while slot is None:
            timeout = None
            if self._slots:  # replicas there, all those chosen full: ask again after the back-off at the latest
                timeout = backoff_s(attempt, config.initial_backoff_s, config.backoff_multiplier, config.max_backoff_s)
                attempt += 1
            await self._wait_turn(refused, timeout)
            slot = await self._choose(pending)
        slot.ongoing += 1
        wrapper = self._replicas.get(slot.info.replica_id)
        if wrapper is not None:
            if model_id and model_id not in wrapper._multiplexed_model_ids:
                wrapper._multiplexed_model_ids.add(model_id)
                index = getattr(self.policy, "_multiplexed_model_id_to_replica_ids", None)
                if index is not None:
                    index[model_id].add(wrapper.replica_id)
            self.policy.on_request_routed(pending, wrapper.replica_id, None)
        return slot

    async def _choose(self, pending: PendingRequest) -> _Slot | None:
        """The slot the policy's ranks give ``pending`` now (None: none with a free slot)."""
        candidates = list(self._replicas.values())
        if not candidates:
            return None
        ranks = await self.policy.choose_replicas(candidates, pending)
        if not isinstance(ranks, (list, tuple)) or not all(isinstance(rank, (list, tuple)) for rank in ranks):
            raise TypeError(f"{type(self.policy).__name__}.choose_replicas() must return a list of lists of "
                            f"RunningReplica (ranks, the most preferred first), got {ranks!r}")
        chosen = pick_from_ranks(ranks, self._load_or_full, self._by_id)  # type: ignore[arg-type]
        return None if chosen is None or self.closed else self._by_id.get(chosen)

    def _load_or_full(self, replica_id: ReplicaID) -> int:
        load = self._load(replica_id)
        return self.max_ongoing_requests if load is None else load

    def _release(self, slot: _Slot) -> None:
        super()._release(slot)
        wrapper = self._replicas.get(slot.info.replica_id)
        current = _current.get()
        if wrapper is not None and current is not None and current[0] is self:
            self.policy.on_request_completed(wrapper.replica_id, current[1].metadata.internal_request_id)

    def close(self) -> None:
        super().close()
        if self._poller is not None:
            self._poller.cancel()
        for task in list(self._collecting):
            task.cancel()


def make_router(app_name: str, deployment_name: str, config: RequestRouterConfig | None, **kwargs: Any) -> Router:
    """The router of a deployment: the plain one, or a :class:`CustomRouter` for a custom ``RequestRouter``."""
    if config is None or config.is_default_request_router():
        return Router(app_name, deployment_name, **kwargs)
    return CustomRouter(app_name, deployment_name, config, **kwargs)


__all__ = ["CustomRouter", "ReplicaInfo", "make_router"]
