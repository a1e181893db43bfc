"""What autoscaling sees and how it settles a policy's wish, as Ray Serve 2.60: the
requests queued in every caller's router count with those running in the replicas,
aggregated over ``look_back_period_s`` (:mod:`streamdata.serve.autoscaling_metrics`), and
every policy (default, custom, application-level) gets the cold start, the up/down
factors, delays and bounds on top. Pure tests first (no processes), then a deployment of
real replicas that scales up because callers queue requests for it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import random
import tempfile
import time
from typing import Any

import httpx
import pytest

from streamdata import serve
from streamdata.serve.app_autoscaling import ApplicationScaler, DeploymentLoad
from streamdata.serve.autoscaling import (
    AutoscalingConfig,
    AutoscalingContext,
    AutoscalingPolicy,
    DeploymentID,
    ReplicaScaler,
)
from streamdata.serve.autoscaling_metrics import REPLICAS, RequestWindow, aggregate, merge_total
from streamdata.serve.replica import ReplicaServer
from streamdata.serve.router import ReplicaInfo, Router

NO_CPU = {"num_cpus": 0}
MODEL = DeploymentID("Model", "app")


# ---------------------------------------------------------------- the requests seen (no processes)
def test_queued_requests_count_with_the_running_ones_over_the_look_back_window() -> None:
    w = RequestWindow()
    w.record(REPLICAS, 0.0, 1)  # the replica is full (max_ongoing_requests=1) from t=0
    w.record("router:driver", 2.0, 3)  # three callers wait in the driver's router from t=2
    w.record("router:proxy", 3.0, 2)  # two in the proxy's
    # window [0, 4] (it opens at the replicas' first sample): 1*4 + 3*2 + 2*1 = 12 over 4 s
    assert w.total(4.0, look_back_s=30) == 3.0
    assert w.queued(4.0, look_back_s=30) == 2.0
    # over the last second only: 1 + 3 + 2 running and queued all along
    assert w.total(4.0, look_back_s=1) == 6.0
    assert w.total(4.0, look_back_s=1, how="min") == 6.0 and w.total(4.0, look_back_s=4, how="max") == 6.0
    w.record("router:driver", 5.0, 0)  # its requests got replicas (they count as running there now)
    w.record(REPLICAS, 5.0, 3)
    assert w.total(6.0, look_back_s=1) == 5.0 and w.queued(6.0, look_back_s=1) == 2.0


def test_routers_that_went_quiet_are_pruned_and_dead_ones_forgotten() -> None:
    w = RequestWindow()
    w.record(REPLICAS, 0.0, 0)
    w.record("router:a", 1.0, 2)
    w.record("router:a", 2.0, 0)  # its queue emptied
    w.record("router:b", 1.0, 5)  # then never heard of again: its process died
    w.prune(5.0, look_back_s=10, silent_after_s=10)
    assert sorted(w.sources()) == [REPLICAS, "router:a", "router:b"]
    w.prune(12.5, look_back_s=10, silent_after_s=10)  # a's last 0 is before the window; b silent for 11.5 s
    assert w.sources() == [REPLICAS]
    assert w.total(12.5, look_back_s=10) == 0.0


def test_the_merge_and_aggregation_reproduce_rays_worked_example() -> None:
    # Ray's DeploymentAutoscalingState.get_total_num_requests docstring: two replicas and a handle
    merged = merge_total([[(0.2, 5), (0.8, 7), (1.5, 6)], [(0.1, 3), (0.9, 4), (1.4, 8)], [(0.3, 2), (1.0, 3)]])
    assert merged == [(0.1, 3), (0.2, 8), (0.3, 10), (0.8, 12), (0.9, 13), (1.0, 14), (1.4, 18), (1.5, 17)]
    assert round(aggregate(merged, 0.3, 2.0), 2) == 13.76
    assert aggregate(merged, 0.3, 2.0, "min") == 10 and aggregate(merged, 2.0, 2.0) == 17


class Gated:
    """A replica's object whose ``wait`` answers once ``open`` was called."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def wait(self) -> str:
        await self.gate.wait()
        return "done"

    def open(self) -> None:
        self.gate.set()


def test_a_router_reports_its_queue_while_requests_wait_and_a_last_zero() -> None:
    """On a real ReplicaServer in this process: what a router tells the controller."""
    from _serve_util import async_wait_until

    async def main() -> None:
        path = os.path.join(tempfile.mkdtemp(prefix="sd-test-"), "r0.sock")
        server = ReplicaServer(Gated(), "app", "Model", "r0", max_ongoing_requests=1)
        await server.listen(path)
        reports: list[tuple[int, str]] = []
        router = Router("app", "Model", on_demand=lambda app, dep, n, rid: reports.append((n, rid)))
        router.update([ReplicaInfo("r0", path)], 1, -1, queue_report_interval_s=0.02)
        calls = [asyncio.ensure_future(router.call("wait", (), {})) for _ in range(4)]  # one runs, three wait
        await async_wait_until(lambda: (3, router.router_id) in reports, "the queue of 3 reported")
        seen = len(reports)
        await async_wait_until(lambda: len(reports) > seen, "the queue reported again, every interval")
        server.obj.open()
        assert await asyncio.gather(*calls) == ["done"] * 4
        await async_wait_until(lambda: reports[-1] == (0, router.router_id), "a last 0 once none waits")
        assert router._reporter is None

        # a deployment that does not autoscale tells nothing while it has replicas
        quiet_reports: list[int] = []
        quiet = Router("app", "Model", on_demand=lambda app, dep, n, rid: quiet_reports.append(n))
        quiet.update([ReplicaInfo("r0", path)], 1, -1, queue_report_interval_s=None)
        server.obj.gate.clear()
        held = [asyncio.ensure_future(quiet.call("wait", (), {})) for _ in range(2)]
        await async_wait_until(lambda: quiet.queued() == 1, "a request waiting in the quiet router")
        assert quiet._reporter is None and quiet_reports == []
        server.obj.open()
        await asyncio.gather(*held)

        # with no replica at all it tells (scale from zero), and 0 once closed
        cold = Router("app", "Model", on_demand=lambda app, dep, n, rid: quiet_reports.append(n))
        pending = asyncio.ensure_future(cold.call("wait", (), {}))
        await async_wait_until(lambda: quiet_reports[-1:] == [1], "the request waiting for a replica reported")
        cold.close()
        with pytest.raises(RuntimeError, match="was deleted"):
            await pending
        await async_wait_until(lambda: quiet_reports[-1] == 0 and cold._reporter is None, "a last 0 when closed")

    asyncio.run(main())


# ---------------------------------------------------------------- what every policy's wish goes through
def recorded(calls: list[AutoscalingContext], count: float) -> Any:
    def policy(ctx: AutoscalingContext) -> tuple[float, dict]:
        calls.append(ctx)
        return count, {"calls": len(calls)}
    return policy


def test_a_custom_policy_gets_the_up_and_down_delays() -> None:
    wants = {"n": 4}
    cfg = AutoscalingConfig(min_replicas=1, max_replicas=8, upscale_delay_s=2.0, downscale_delay_s=5.0,
                            policy=AutoscalingPolicy(policy_function=lambda ctx: wants["n"]))
    scaler = ReplicaScaler(cfg, MODEL)
    assert [scaler.decide(now=t, current=1, load=0, target=1) for t in (0.0, 1.0, 1.9)] == [1, 1, 1]
    assert scaler.decide(now=2.0, current=1, load=0, target=1) == 4  # wanted up for 2 s
    wants["n"] = 1
    assert scaler.decide(now=3.0, current=4, load=0, target=4) == 4
    wants["n"] = 4  # content again: the wish to go down starts over
    assert scaler.decide(now=4.0, current=4, load=0, target=4) == 4
    wants["n"] = 1
    assert [scaler.decide(now=t, current=4, load=0, target=4) for t in (5.0, 9.9, 10.0)] == [4, 4, 1]


def test_factors_bounds_and_the_cold_start_apply_to_a_custom_policy() -> None:
    calls: list[AutoscalingContext] = []
    cfg = AutoscalingConfig(min_replicas=0, max_replicas=6, upscale_delay_s=0, downscale_delay_s=0,
                            downscale_to_zero_delay_s=3.0, upscaling_factor=0.5, downscaling_factor=0.25,
                            policy=AutoscalingPolicy(policy_function=recorded(calls, 10)))
    scaler = ReplicaScaler(cfg, MODEL)
    # no replica and requests waiting: one replica at once, the policy not asked (Ray's cold start)
    assert scaler.decide(now=0.0, current=0, load=3, target=0) == 1 and calls == []
    assert scaler.decide(now=1.0, current=2, load=3, target=2) == 6  # 2 + 0.5 * (10 - 2), kept within 6
    assert calls[-1].policy_state == {} and calls[-1].total_num_requests == 3
    down = ReplicaScaler(AutoscalingConfig(min_replicas=0, max_replicas=6, downscale_delay_s=0,
                                           downscale_to_zero_delay_s=3.0, downscaling_factor=0.25,
                                           policy=AutoscalingPolicy(policy_function=lambda ctx: 0)), MODEL)
    assert down.decide(now=0.0, current=4, load=0, target=4) == 3  # a step that rounds to nothing: one down
    assert down.decide(now=0.0, current=2, load=0, target=2) == 1  # 2 -> 0 stops at 1 first
    assert down.decide(now=1.0, current=1, load=0, target=1) == 1  # 1 -> 0 waits downscale_to_zero_delay_s
    assert down.decide(now=4.0, current=1, load=0, target=1) == 0


def test_an_application_policy_gets_them_per_deployment() -> None:
    pre, model = DeploymentID("Pre", "app"), DeploymentID("Model", "app")
    cfgs = {pre: AutoscalingConfig(min_replicas=0, max_replicas=10, upscale_delay_s=1.0),
            model: AutoscalingConfig(min_replicas=1, max_replicas=10, upscale_delay_s=0, upscaling_factor=0.5)}
    scaler = ApplicationScaler(lambda contexts: ({pre: 5, model: 9}, None), "app")

    def loads(pre_current: int, pre_target: int, load: float = 0) -> list[DeploymentLoad]:
        return [DeploymentLoad(deployment_id=pre, config=cfgs[pre], current=pre_current, target=pre_target, load=load),
                DeploymentLoad(deployment_id=model, config=cfgs[model], current=1, target=1, load=load)]

    assert scaler.decide(now=0.0, loads=loads(0, 0, load=2)) == {pre: 1, model: 5}  # cold start; 1 + 0.5 * 8
    assert scaler.decide(now=0.5, loads=loads(1, 1)) == {pre: 1, model: 5}  # Pre's wish holds for 1 s first
    assert scaler.decide(now=1.5, loads=loads(1, 1)) == {pre: 5, model: 5}


def test_the_settling_matches_rays_own_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray 2.60's ``_apply_autoscaling_config`` around the default and a custom policy, then its
    rounding and bounds, against :class:`ReplicaScaler`, over random loads and configs."""
    rap = pytest.importorskip("ray.serve.autoscaling_policy")
    from ray.serve._private.common import DeploymentID as RayDeploymentID
    from ray.serve.config import AutoscalingConfig as RayConfig
    from ray.serve.config import AutoscalingContext as RayContext

    clock = type("Clock", (), {"now": 0.0, "time": lambda self: self.now})()
    monkeypatch.setattr(rap, "time", clock)

    def custom(ctx: Any) -> tuple[float, dict]:
        return ctx.total_num_requests / 1.5, {}

    for seed in range(120):
        rng = random.Random(seed)
        kw: dict[str, Any] = dict(min_replicas=rng.choice([0, 1, 2]), upscale_delay_s=rng.choice([0, 1, 3]),
                                  downscale_delay_s=rng.choice([0, 2, 5]), upscaling_factor=rng.choice([None, 0.5, 2]),
                                  downscaling_factor=rng.choice([None, 0.3]),
                                  downscale_to_zero_delay_s=rng.choice([None, 0, 4]))
        kw["max_replicas"] = kw["min_replicas"] + rng.choice([1, 3, 8])
        use_custom = seed % 2 == 1
        ray_policy = rap._apply_autoscaling_config(custom if use_custom else rap.replica_queue_length_autoscaling_policy)
        ours = ReplicaScaler(AutoscalingConfig(**kw, policy=AutoscalingPolicy(policy_function=custom) if use_custom
                                               else None), MODEL)
        ray_config, state = RayConfig(**kw), {}
        target = current = max(1, kw["min_replicas"])
        for step in range(40):
            clock.now = step * 0.5
            load = rng.choice([0, 0, 0.01, 0.5, 1, 3, 7, 20])
            current = rng.choice([target, target, max(0, target - 1)])
            ctx = RayContext(deployment_id=RayDeploymentID(name="Model", app_name="app"), deployment_name="Model",
                             app_name="app", current_num_replicas=current, target_num_replicas=target,
                             running_replicas=[], total_num_requests=load, total_queued_requests=0,
                             aggregated_metrics={}, raw_metrics={}, capacity_adjusted_min_replicas=kw["min_replicas"],
                             capacity_adjusted_max_replicas=kw["max_replicas"], policy_state=state,
                             last_scale_up_time=None, last_scale_down_time=None, current_time=clock.now,
                             config=ray_config)
            wanted, state = ray_policy(ctx)
            expected = max(kw["min_replicas"], min(kw["max_replicas"], math.ceil(wanted)))
            got = ours.decide(now=clock.now, current=current, load=load, target=target)
            assert got == expected, (seed, step, kw, use_custom, current, target, load)
            target = expected


def test_new_config_fields_are_checked() -> None:
    cfg = AutoscalingConfig.from_value({"look_back_period_s": 5, "aggregation_function": "MAX",
                                        "upscale_smoothing_factor": 0.5, "smoothing_factor": 0.2})
    assert (cfg.look_back_period_s, cfg.aggregation_function) == (5, "max")
    assert (cfg.get_upscaling_factor(), cfg.get_downscaling_factor()) == (0.5, 0.2)
    with pytest.raises(ValueError, match="aggregation_function must be one of"):
        AutoscalingConfig(aggregation_function="median")
    with pytest.raises(ValueError, match="upscaling_factor must be > 0"):
        AutoscalingConfig(upscaling_factor=0)
    with pytest.raises(ValueError, match="look_back_period_s must be > 0"):
        AutoscalingConfig(look_back_period_s=-1)


# ---------------------------------------------------------------- real replicas


# One request at a time per replica; one held request keeps the first replica full, so the
# replicas alone report 1 running request: only the callers' queues show the load.
@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=1, autoscaling_config={
    "min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 1, "upscale_delay_s": 0,
    "metrics_interval_s": 0.05})
class Held:
    def __init__(self, release: str) -> None:
        self.release = release

    async def __call__(self, _: Any = None) -> int:
        deadline = time.monotonic() + 90
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the test's release: a file it creates
        return os.getpid()


@serve.deployment(ray_actor_options=NO_CPU)
class Caller:
    """Calls Held from its replica: those requests queue in the replica's router."""

    def __init__(self) -> None:
        self.held = serve.get_deployment_handle("Held", app_name="held")

    async def __call__(self) -> int:
        return await self.held.remote()


def test_requests_queued_in_callers_scale_a_full_deployment_up(serve_http: str) -> None:
    from _serve_util import wait_until

    release = os.path.join(tempfile.mkdtemp(), "release")
    held = serve.run(Held.bind(release), name="held", route_prefix="/held")
    caller = serve.run(Caller.bind(), name="caller", route_prefix=None)

    def running() -> int:
        return serve.status().applications["held"].deployments["Held"].replica_states.get("RUNNING", 0)

    assert running() == 1
    # six requests for one slot: from the driver's router, a replica's router (Caller's) and the proxy's
    from_driver = [held.remote() for _ in range(2)]
    from_caller = [caller.remote() for _ in range(2)]
    pool = concurrent.futures.ThreadPoolExecutor(2)
    over_http = [pool.submit(httpx.get, serve_http + "/held", timeout=120) for _ in range(2)]
    try:
        wait_until(lambda: running() == 3, timeout=90,
                   what=lambda: f"Held at max_replicas (3) for its queued callers; now {serve.status()}")
    finally:
        open(release, "w").close()
    pids = {r.result(timeout_s=90) for r in from_driver + from_caller}
    assert all(f.result(timeout=90).status_code == 200 for f in over_http)
    pool.shutdown()
    assert len(pids) >= 1
    serve.delete("caller")
    serve.delete("held")
