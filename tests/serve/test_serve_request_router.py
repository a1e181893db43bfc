"""Custom request routers (Ray Serve's ``request_router_config``): the config's checks and
the mixins' ranking without processes, then real replicas routed by a custom router that
reads the replicas' ``record_routing_stats()``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streamdata import serve
from streamdata.serve.config import RequestRouterConfig
from streamdata.serve.request_router import (
    FIFOMixin,
    LocalityMixin,
    MultiplexMixin,
    PendingRequest,
    ReplicaID,
    RequestMetadata,
    RequestRouter,
    RunningReplica,
    pick_from_ranks,
)
from streamdata.serve.context import DeploymentID, _get_internal_replica_context

DEP = DeploymentID("D", "app")


class LowestStat(RequestRouter):
    """Always the replica whose ``record_routing_stats()`` reported the lowest ``value``."""

    def initialize_state(self, key: str = "value") -> None:
        self.key = key

    async def choose_replicas(self, candidate_replicas: list[RunningReplica],
                              pending_request: PendingRequest | None = None) -> list[list[RunningReplica]]:
        best = min(candidate_replicas, key=lambda r: r.routing_stats.get(self.key, float("inf")))
        return [[best]]


class ThroughputAware(FIFOMixin, MultiplexMixin, LocalityMixin, RequestRouter):
    """Ray's documentation example: the model's replicas and the local ones, least throughput first."""

    async def choose_replicas(self, candidate_replicas: list[RunningReplica],
                              pending_request: PendingRequest | None = None) -> list[list[RunningReplica]]:
        top: dict[ReplicaID, RunningReplica] = {}
        if pending_request is not None and pending_request.metadata.multiplexed_model_id:
            having = self.rank_replicas_via_multiplex(
                replicas=candidate_replicas, multiplexed_model_id=pending_request.metadata.multiplexed_model_id)[0]
            top.update((r.replica_id, r) for r in self.select_available_replicas(candidates=having))
        local = self.rank_replicas_via_locality(replicas=candidate_replicas)[0]
        top.update((r.replica_id, r) for r in self.select_available_replicas(candidates=local))
        return [sorted(top.values(), key=lambda r: r.routing_stats.get("throughput", 0))]


def _replica(name: str, **kwargs: Any) -> RunningReplica:
    return RunningReplica(ReplicaID(name, DEP), **kwargs)


# ---- the config, without processes
def test_config_defaults_and_class_paths() -> None:
    default = RequestRouterConfig()
    assert default.is_default_request_router()
    assert (default.request_routing_stats_period_s, default.request_routing_stats_timeout_s) == (10.0, 30.0)
    config = RequestRouterConfig(request_router_class=LowestStat, request_router_kwargs={"key": "load"},
                                 request_routing_stats_period_s=0.5)
    assert config.request_router_class == f"{__name__}.LowestStat"
    assert not config.is_default_request_router()
    assert config.get_request_router_class().__name__ == "LowestStat"
    by_path = RequestRouterConfig(request_router_class=f"{__name__}:LowestStat", request_router_kwargs={"key": "load"},
                                  request_routing_stats_period_s=0.5)
    assert by_path.request_router_class == f"{__name__}:LowestStat"  # a path stays as given, as Ray's
    assert by_path.get_request_router_class().__name__ == "LowestStat"
    assert by_path != config
    assert config == RequestRouterConfig(**{**config.__dict__, "_serialized_request_router_cls": b""})
    assert RequestRouterConfig.from_value({"request_router_class": LowestStat}).request_router_class == \
        config.request_router_class
    deployment = serve.deployment(request_router_config={"request_router_class": LowestStat})(lambda: "ok")
    assert deployment.config.request_router_config.request_router_class == config.request_router_class


@pytest.mark.parametrize("kwargs, error, match", [
    ({"request_router_class": int}, TypeError, r"request_router_class=.*subclass of RequestRouter.*builtins\.int"),
    ({"request_router_class": "no_such_module_xyz:Router"}, ValueError, "request_router_class=.*cannot be imported"),
    ({"request_router_class": RequestRouter}, TypeError, "request_router_class=.*choose_replicas"),
    ({"request_router_class": 3}, TypeError, "request_router_class=...* must be"),
    ({"request_router_class": LowestStat, "request_router_kwargs": {"nope": 1}}, TypeError,
     "request_router_kwargs=.*initialize_state"),
    ({"request_router_kwargs": {"f": object()}}, ValueError, "request_router_kwargs=.*JSON"),
    ({"request_router_kwargs": [1]}, TypeError, "request_router_kwargs=.*dict"),
    ({"request_routing_stats_period_s": 0}, ValueError, "request_routing_stats_period_s"),
    ({"request_routing_stats_timeout_s": -1}, ValueError, "request_routing_stats_timeout_s"),
])
def test_config_errors_name_the_argument(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RequestRouterConfig(**kwargs)


def test_deployment_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['router'\]"):
        serve.deployment(request_router_config={"router": LowestStat})(lambda: "ok")
    with pytest.raises(TypeError, match="request_router_config must be"):
        serve.deployment(request_router_config=LowestStat)(lambda: "ok")


# ---- choosing, without processes
def test_pick_from_ranks_takes_the_least_loaded_free_replica_of_the_first_rank_that_has_one() -> None:
    a, b, c = _replica("a", max_ongoing_requests=2), _replica("b", max_ongoing_requests=2), _replica("c")
    loads = {a.replica_id: 2, b.replica_id: 1, c.replica_id: 0}
    assert pick_from_ranks([[a], [c, b]], loads.get, loads) == c.replica_id  # a full; c less loaded than b
    assert pick_from_ranks([[b, c]], loads.get, loads) == c.replica_id
    assert pick_from_ranks([[a], []], loads.get, loads) is None
    assert pick_from_ranks([[_replica("gone")]], loads.get, loads) is None  # not a replica of the caller


def test_mixins_rank_by_model_and_locality() -> None:
    router = ThroughputAware(deployment_id=DEP, self_node_id="local")
    a = _replica("a", multiplexed_model_ids={"m1", "m2"}, routing_stats={"throughput": 5})
    b = _replica("b", multiplexed_model_ids={"m1"}, routing_stats={"throughput": 1})
    c = _replica("c", node_id="elsewhere")
    router.update_replicas([a, b, c])
    assert router.rank_replicas_via_multiplex([a, b, c], "m2") == [[a], [c], [b]]  # c has fewest models
    assert router.rank_replicas_via_locality([a, b, c]) == [[a, b], [], [c]]
    pending = PendingRequest([], {}, RequestMetadata(multiplexed_model_id="m1"))
    assert asyncio.run(router.choose_replicas([a, b, c], pending)) == [[b, a]]  # least throughput first
    router._queue_len = {b.replica_id: 5}.get  # b full: not available
    assert asyncio.run(router.choose_replicas([a, b, c], pending)) == [[a]]
    assert router.apply_multiplex_routing(pending) == {a.replica_id, b.replica_id}
    router.on_replica_actor_died(b.replica_id)
    assert router.rank_replicas_via_multiplex([a, c], "m1") == [[a], [c], []]
    assert set(router.curr_replicas) == {a.replica_id, c.replica_id}


def test_locality_tries_the_local_node_once() -> None:
    router = ThroughputAware(deployment_id=DEP, self_node_id="local", prefer_local_node_routing=True)
    a, far = _replica("a"), _replica("far", node_id="other")
    router.update_replicas([a, far])
    pending = PendingRequest([], {}, RequestMetadata())
    assert router.apply_locality_routing(pending) == {a.replica_id}
    assert router.apply_locality_routing(pending) == {a.replica_id, far.replica_id}


# ---- real replicas
@serve.deployment(num_replicas=3, max_ongoing_requests=10, ray_actor_options={"num_cpus": 0},
                  request_router_config=RequestRouterConfig(request_router_class=LowestStat,
                                                            request_routing_stats_period_s=0.1))
class Ranked:
    def __init__(self) -> None:
        self.rank = serve.get_replica_context().rank.rank
        self.reports = 0

    def record_routing_stats(self) -> dict[str, Any]:
        self.reports += 1
        return {"value": self.rank}

    async def __call__(self) -> tuple[str, int, int]:
        await asyncio.sleep(0.01)
        return serve.get_replica_context().replica_tag, self.rank, self.reports


def test_every_request_goes_to_the_replica_with_the_lowest_routing_stat(serve_no_proxy: None) -> None:
    handle = serve.run(Ranked.bind(), name="ranked", route_prefix=None)
    deadline = time.monotonic() + 30
    while True:  # until the rank-0 replica's first report reached the router
        tag, rank, _ = handle.remote().result()
        if rank == 0:
            break
        assert time.monotonic() < deadline, "rank 0's routing stats never reached the router"
    answers = [handle.remote().result() for _ in range(10)]
    answers += [r.result() for r in [handle.remote() for _ in range(8)]]  # concurrent, within max_ongoing_requests
    assert {a[0] for a in answers} == {tag}
    while handle.remote().result()[2] < 3:  # the stats are collected again every period
        assert time.monotonic() < deadline, "record_routing_stats() was not called every period"
    serve.delete("ranked")


@serve.deployment(num_replicas=3, ray_actor_options={"num_cpus": 0},
                  request_router_config=RequestRouterConfig(request_router_class=ThroughputAware,
                                                            request_routing_stats_period_s=0.1,
                                                            request_routing_stats_timeout_s=1))
class Throughput:
    def __init__(self) -> None:
        self.replica_id = _get_internal_replica_context().replica_id
        self.served: list[float] = []

    def __call__(self) -> ReplicaID:
        self.served.append(time.time())
        return self.replica_id

    def record_routing_stats(self) -> dict[str, Any]:
        now = time.time()
        self.served = [t for t in self.served if t > now - 1]
        return {"throughput": len(self.served)}


def test_throughput_aware_router_from_rays_docs(serve_no_proxy: None) -> None:
    handle = serve.run(Throughput.bind(), name="throughput", route_prefix=None)
    seen: set[ReplicaID] = set()
    deadline = time.monotonic() + 30
    while len(seen) < 2:  # a replica that reports more throughput than another is passed over
        replica_id = handle.remote().result()
        assert isinstance(replica_id, ReplicaID)
        assert replica_id.deployment_id == DeploymentID("Throughput", "throughput")
        seen.add(replica_id)
        assert time.monotonic() < deadline, "the throughput-aware router kept one replica"
    serve.delete("throughput")
