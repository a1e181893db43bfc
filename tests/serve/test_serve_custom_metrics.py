"""Custom autoscaling metrics (Ray Serve 2.60): a deployment's ``record_autoscaling_stats()``
reaches custom policies as ``AutoscalingContext.aggregated_metrics`` (metric -> ReplicaID ->
the series aggregated over the look-back window) and ``raw_metrics`` (metric -> ReplicaID ->
``TimeStampedValue`` samples); a failing hook is logged and counted, never fatal."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any


import streamdata as sd
from streamdata import serve
from streamdata.serve.app_autoscaling import ApplicationScaler, DeploymentLoad
from streamdata.serve.autoscaling import ReplicaScaler, TimeStampedValue
from streamdata.serve.autoscaling_metrics import CustomMetricsWindow
from streamdata.serve.autoscaling_stats import AutoscalingStatsRecorder, check_stats
from streamdata.serve.client import CONTROLLER_NAME
from streamdata.serve.config import AutoscalingConfig, AutoscalingContext, DeploymentID
from streamdata.serve.context import ReplicaID

DEP = DeploymentID("Model", "app")
R1, R2, R3 = (ReplicaID(u, DEP) for u in ("0-a", "1-b", "2-c"))
AT_ONCE = {"upscale_delay_s": 0, "downscale_delay_s": 0}


# ---------------------------------------------------------------- the window (pure, no processes)
def test_each_replica_series_is_aggregated_over_the_look_back_window() -> None:
    w = CustomMetricsWindow()
    for t, v in [(0.0, 10), (1.0, 40), (3.0, 20)]:
        w.record(R1, t, {"cpu": v, "mem": 1})
    w.record(R2, 2.0, {"cpu": 6})
    running = [R1, R2, R3]  # R3 never reported: no entry for it
    # mean: time-weighted, each sample held until the next, the last until now
    assert w.aggregated(running, now=4.0, look_back_s=30) == {
        "cpu": {R1: (10 * 1 + 40 * 2 + 20 * 1) / 4, R2: 6.0}, "mem": {R1: 1.0}}
    assert w.aggregated(running, now=4.0, look_back_s=30, how="max") == {"cpu": {R1: 40.0, R2: 6.0},
                                                                        "mem": {R1: 1.0}}
    assert w.aggregated(running, now=4.0, look_back_s=30, how="min")["cpu"] == {R1: 10.0, R2: 6.0}
    # only the samples inside the window count (the first one at 1.0 here)
    assert w.aggregated([R1], now=4.0, look_back_s=3.5)["cpu"] == {R1: (40 * 2 + 20 * 1) / 3}
    assert w.raw([R1, R3])["cpu"] == {R1: [TimeStampedValue(0.0, 10), TimeStampedValue(1.0, 40),
                                           TimeStampedValue(3.0, 20)]}
    assert TimeStampedValue(1.0, 5) == TimeStampedValue(1.0, 7) < TimeStampedValue(2.0, 0)  # by time alone
    # a replica not running is left out; pruning drops old samples and metrics left empty
    assert set(w.raw([R2])["cpu"]) == {R2} and "mem" not in w.raw([R2])
    w.prune(now=5.5, look_back_s=3.0)
    assert w.raw(running) == {"cpu": {R1: [TimeStampedValue(3.0, 20)]}, "mem": {R1: [TimeStampedValue(3.0, 1)]}}
    w.forget(R1)
    assert w.raw(running) == {} and w.aggregated(running, now=6.0, look_back_s=30) == {}
    late = CustomMetricsWindow()  # a result that came late is placed at its own time
    late.record(R1, 2.0, {"q": 2})
    late.record(R1, 1.0, {"q": 1})
    assert [s.timestamp for s in late.raw([R1])["q"][R1]] == [1.0, 2.0]


def test_policies_get_the_metrics_keyed_by_the_replica_ids_they_see_running() -> None:
    seen: list[AutoscalingContext] = []

    def policy(ctx: AutoscalingContext) -> int:
        seen.append(ctx)
        return math.ceil(sum(ctx.aggregated_metrics.get("queue", {}).values()))

    cfg = AutoscalingConfig(min_replicas=1, max_replicas=5, policy={"policy_function": policy}, **AT_ONCE)
    scaler = ReplicaScaler(cfg, DEP)
    raw = {"queue": {R1: [TimeStampedValue(0.5, 3.0)]}}
    assert scaler.decide(now=1.0, current=1, load=0, running=["0-a"], aggregated_metrics={"queue": {R1: 3.0}},
                         raw_metrics=raw) == 3
    ctx = seen[-1]
    assert ctx.running_replicas == [R1] and set(ctx.aggregated_metrics["queue"]) <= set(ctx.running_replicas)
    assert ctx.raw_metrics == raw and ctx.running_replicas[0].unique_id == "0-a"
    assert scaler.decide(now=2.0, current=3, load=0) == 1 and seen[-1].aggregated_metrics == {}
    # an application's policy gets each deployment's metrics too (as Ray's does)
    app_seen: list[dict] = []

    def app_policy(contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
        app_seen.append({i: c.aggregated_metrics for i, c in contexts.items()})
        return {i: sum(c.aggregated_metrics.get("queue", {}).values()) for i, c in contexts.items()}, {}

    load = DeploymentLoad(deployment_id=DEP, config=AutoscalingConfig(max_replicas=9, **AT_ONCE), current=1, target=1,
                          load=0, running=("0-a",), aggregated_metrics={"queue": {R1: 4.5}}, raw_metrics=raw)
    assert ApplicationScaler(app_policy, "app").decide(now=1.0, loads=[load]) == {DEP: 5}
    assert app_seen == [{DEP: {"queue": {R1: 4.5}}}]


# ---------------------------------------------------------------- the replica's side (asyncio, no processes)
def test_the_recorder_calls_the_hook_and_survives_its_failures() -> None:
    class Sync:
        def __init__(self) -> None:
            self.threads: list[str] = []

        def record_autoscaling_stats(self) -> dict:
            self.threads.append(threading.current_thread().name)
            return {"a": 1, "b": 2.5}

    class Async:
        calls = 0

        async def record_autoscaling_stats(self) -> dict:
            Async.calls += 1
            if Async.calls <= 2:
                raise RuntimeError("not ready")
            return {"n": Async.calls}

    class Slow:
        async def record_autoscaling_stats(self) -> dict:
            await asyncio.sleep(5)
            return {}

    async def main() -> None:
        sync = Sync()
        rec = AutoscalingStatsRecorder(sync)
        metrics, age = await rec.collect(wait_s=5.0)
        assert metrics == {"a": 1, "b": 2.5} and 0 <= age < 5
        assert sync.threads and sync.threads[0] != threading.current_thread().name  # off the event loop
        assert AutoscalingStatsRecorder(object()).enabled is False
        assert await AutoscalingStatsRecorder(object()).collect(1.0) == (None, 0.0)

        failing = AutoscalingStatsRecorder(Async())
        assert (await failing.collect(5.0))[0] is None and (await failing.collect(5.0))[0] is None
        assert failing.failures == 2 and failing.enabled
        assert (await failing.collect(5.0))[0] == {"n": 3}

        slow = AutoscalingStatsRecorder(Slow(), timeout_s=0.05)
        assert (await slow.collect(wait_s=5.0))[0] is None and slow.failures == 1 and slow.enabled

        for bad in ("high", {"x": "1"}, None, [1.0]):
            class Bad:
                def record_autoscaling_stats(self, bad: Any = bad) -> Any:
                    return bad
            rec = AutoscalingStatsRecorder(Bad())
            assert await rec.collect(5.0) == (None, 0.0) and rec.enabled is False and rec.failures == 0

    asyncio.run(main())
    assert check_stats({"ok": True}) is None  # a bool is an int, as in Ray
    assert "expected an int or a float" in (check_stats({"x": None}) or "")


# ---------------------------------------------------------------- real replicas


def pressure_policy(ctx: AutoscalingContext) -> int:
    """The sum over the replicas of their ``pressure`` (each aggregated over the window);
    1 when the metrics are not keyed by the running replicas' ids or not TimeStampedValues."""
    aggregated = ctx.aggregated_metrics.get("pressure", {})
    raw = ctx.raw_metrics.get("pressure", {})
    shaped = (set(aggregated) == set(raw) and set(aggregated) <= set(ctx.running_replicas)
              and all(isinstance(r, ReplicaID) for r in aggregated)
              and all(isinstance(s, TimeStampedValue) for series in raw.values() for s in series))
    return max(1, math.ceil(sum(aggregated.values()))) if shaped else 1


METRICS_CONFIG = {"min_replicas": 1, "max_replicas": 3, "metrics_interval_s": 0.1, "look_back_period_s": 2,
                  "aggregation_function": "max", **AT_ONCE, "policy": {"policy_function": pressure_policy}}


@serve.deployment(ray_actor_options={"num_cpus": 0}, autoscaling_config=METRICS_CONFIG)
class Pressured:
    def __init__(self) -> None:
        self.pressure = 0.0

    def set_pressure(self, value: float) -> str:
        self.pressure = value
        return "set"

    async def record_autoscaling_stats(self) -> dict[str, float]:
        return {"pressure": self.pressure}


@serve.deployment(ray_actor_options={"num_cpus": 0}, autoscaling_config={**METRICS_CONFIG, "max_replicas": 2})
class Flaky:
    """Its hook raises at its first three calls, then says 2 (each replica: 2 replicas at most)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        return "alive"

    def record_autoscaling_stats(self) -> dict[str, float]:
        self.calls += 1
        if self.calls <= 3:
            raise ValueError("metrics backend not ready")
        return {"pressure": 2}


def _running(app: str) -> int:
    deployments = serve.status().applications[app].deployments
    return sum(d.replica_states.get("RUNNING", 0) for d in deployments.values())


def _replica_stats(app: str) -> list[dict[str, Any]]:
    controller = sd.get_actor(CONTROLLER_NAME)
    return [s for s in sd.get(controller.get_replica_stats.remote(), timeout=30) if s["application"] == app]


def test_a_replicas_custom_metric_drives_a_custom_policy_up(serve_no_proxy: None) -> None:
    from _serve_util import wait_until

    handle = serve.run(Pressured.bind(), name="pressured", route_prefix=None)
    assert _running("pressured") == 1
    assert handle.set_pressure.remote(2.2).result(timeout_s=60) == "set"  # its one replica: 2.2 -> 3 replicas
    wait_until(lambda: _running("pressured") == 3, timeout=60,
               what=lambda: f"3 replicas from the pressure metric; now {_running('pressured')}")


def app_pressure_policy(contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
    return {i: pressure_policy(ctx) for i, ctx in contexts.items()}, {}


def test_an_application_policy_sees_the_custom_metrics_too(serve_no_proxy: None) -> None:
    from _serve_util import wait_until

    handle = serve.run(Pressured.bind(), name="app_pressured", route_prefix=None,
                       autoscaling_policy=app_pressure_policy)
    assert handle.set_pressure.remote(1.5).result(timeout_s=60) == "set"
    wait_until(lambda: _running("app_pressured") == 2, timeout=60,
               what=lambda: f"2 replicas from the application's policy; now {_running('app_pressured')}")


def test_a_failing_record_autoscaling_stats_is_counted_and_the_replica_lives_on(serve_no_proxy: None) -> None:
    from _serve_util import wait_until

    handle = serve.run(Flaky.bind(), name="flaky", route_prefix=None)
    first = _replica_stats("flaky")
    assert len(first) == 1
    # its failures are counted, then its metric (2) scales the deployment to 2 replicas
    wait_until(lambda: _running("flaky") == 2, timeout=60,
               what=lambda: f"2 replicas once the hook answers; now {_running('flaky')}")
    stats = {s["replica"]: s for s in _replica_stats("flaky")}
    original = stats[first[0]["replica"]]  # the same replica, the same process
    assert original["pid"] == first[0]["pid"] and original["record_autoscaling_stats_failed"] == 3
    assert handle.remote().result(timeout_s=60) == "alive"
