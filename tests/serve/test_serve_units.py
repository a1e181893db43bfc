"""sd.serve pieces that need no runtime: @batch on an asyncio loop, the routing
choice, the autoscaling policy, metrics text, deployment options."""

from __future__ import annotations

import asyncio
import os
import json
import pickle
import random
from typing import Any

import pytest

from streamdata import serve
from streamdata.errors import TaskError, UDFReturnError
from streamdata.serve.autoscaling import AutoscalingConfig, ReplicaScaler, desired_replicas
from streamdata.serve.batching import batch_size_counts
from streamdata.serve import wire
from streamdata.serve.client import AppRoute, RoutingTable
from streamdata.serve.http_proxy import error_response_body
from streamdata.serve.metrics import ProxyMetrics
from streamdata.serve.router import choose_replica
from streamdata.serve.schema import ApplicationStatus, DeploymentStatus, ServeStatus

# ---------------------------------------------------------------- @serve.batch


def _gather(coro_fn: Any, items: list) -> list:
    async def main() -> list:
        return await asyncio.gather(*(coro_fn(i) for i in items), return_exceptions=True)
    return asyncio.run(main())


def test_concurrent_callers_are_batched_up_to_max_batch_size() -> None:
    seen: list[list[int]] = []

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.2)
    async def square(xs: list[int]) -> list[int]:
        seen.append(list(xs))
        return [x * x for x in xs]

    assert _gather(square, list(range(10))) == [x * x for x in range(10)]
    # 10 callers at once: full batches of 4 and the rest, in arrival order
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batch_size_counts()[square.__qualname__] == {4: 2, 2: 1}


def test_batch_size_fn_sizes_batches_by_its_measure() -> None:
    seen: list[list[str]] = []

    @serve.batch(max_batch_size=10, batch_wait_timeout_s=0.3, batch_size_fn=lambda xs: sum(len(x) for x in xs))
    async def tokens(xs: list[str]) -> list[int]:
        seen.append(list(xs))
        return [len(x) for x in xs]

    words = ["aaaa", "bbbb", "cc", "ddddddddddddd", "eeeeeee", "fff", "g"]
    results = _gather(tokens, words)
    # in order while the total length stays <= 10 (the callers all wait when the first batch forms)
    assert seen == [["aaaa", "bbbb", "cc"], ["eeeeeee", "fff"], ["g"]]
    assert results[:3] == [4, 4, 2] and results[4:] == [7, 3, 1]
    assert isinstance(results[3], RuntimeError) and "greater than max_batch_size=10" in str(results[3])

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.0, batch_size_fn=lambda xs: "big")
    async def broken(xs: list) -> list:
        return xs

    assert all(isinstance(r, TypeError) and "must return an int, got str" in str(r) for r in _gather(broken, [1]))
    with pytest.raises(TypeError, match="batch_size_fn must be a callable or None, got int"):
        serve.batch(batch_size_fn=3)


def test_a_lone_caller_waits_at_most_the_timeout() -> None:
    @serve.batch(max_batch_size=100, batch_wait_timeout_s=0.0)
    async def ident(xs: list) -> list:
        return [len(xs)] * len(xs)

    async def main() -> list:
        return [await ident("a"), await ident("b")]  # one after the other: batches of one
    assert asyncio.run(main()) == [1, 1]


def test_wrong_number_of_results_fails_every_caller() -> None:
    @serve.batch(max_batch_size=3, batch_wait_timeout_s=5.0)
    async def short(xs: list) -> list:
        return xs[:-1]

    results = _gather(short, [1, 2, 3])
    assert all(isinstance(r, UDFReturnError) for r in results)
    assert "returned 2 results for a batch of 3 inputs" in str(results[0])

    @serve.batch(max_batch_size=2, batch_wait_timeout_s=5.0)
    async def scalar(xs: list) -> Any:
        return 5

    assert all(isinstance(r, UDFReturnError) and "got int" in str(r) for r in _gather(scalar, [1, 2]))


def test_an_exception_reaches_every_caller_of_the_batch_only() -> None:
    @serve.batch(max_batch_size=2, batch_wait_timeout_s=5.0)
    async def picky(xs: list[int]) -> list[int]:
        if 3 in xs:
            raise ValueError(f"bad batch {xs}")
        return xs

    results = _gather(picky, [0, 1, 2, 3])
    assert results[:2] == [0, 1]
    assert [type(r) for r in results[2:]] == [ValueError, ValueError]
    assert str(results[2]) == "bad batch [2, 3]"


def test_max_concurrent_batches() -> None:
    state = {"now": 0, "peak": 0}

    def make(limit: int) -> Any:
        @serve.batch(max_batch_size=2, batch_wait_timeout_s=0.0, max_concurrent_batches=limit)
        async def slow(xs: list) -> list:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            for _ in range(5):  # let the other batches start if they may
                await asyncio.sleep(0)
            state["now"] -= 1
            return xs
        return slow

    assert _gather(make(1), list(range(8))) == list(range(8))
    assert state["peak"] == 1
    state["peak"] = 0
    assert _gather(make(3), list(range(12))) == list(range(12))
    assert state["peak"] == 3


class _Tagger:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.batches: list[int] = []

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=5.0)
    async def __call__(self, xs: list) -> list:
        self.batches.append(len(xs))
        return [f"{self.tag}{x}" for x in xs]


def test_methods_batch_per_instance_and_stay_picklable() -> None:
    a, b = _Tagger("a"), _Tagger("b")

    async def main() -> list:  # 8 calls per instance, interleaved: each queue fills on its own
        return await asyncio.gather(*(obj(i) for i in range(8) for obj in (a, b)))

    assert asyncio.run(main()) == [f"{t}{i}" for i in range(8) for t in "ab"]
    assert a.batches == [8] and b.batches == [8]
    copy = pickle.loads(pickle.dumps(a))  # the queues are not kept on the instance
    assert copy.tag == "a" and copy.batches == [8]


def test_batch_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="async function"):
        serve.batch(lambda xs: xs)
    with pytest.raises(ValueError, match="max_batch_size"):
        serve.batch(max_batch_size=0)
    with pytest.raises(ValueError, match="batch_wait_timeout_s"):
        serve.batch(batch_wait_timeout_s=-1)
    with pytest.raises(ValueError, match="max_concurrent_batches"):
        serve.batch(max_concurrent_batches=0)

    async def three(a: Any, b: Any, c: Any) -> None: ...
    with pytest.raises(TypeError, match="only argument"):
        serve.batch(three)

    @serve.batch
    async def f(xs: list) -> list:
        return xs

    async def kw() -> Any:
        return await f(x=1)
    with pytest.raises(TypeError, match="keyword"):
        asyncio.run(kw())


# ---------------------------------------------------------------- routing


def test_choose_replica_power_of_two() -> None:
    rng = random.Random(7)
    picks = [choose_replica([0, 5, 9], capacity=10, rng=rng) for _ in range(200)]
    assert 2 not in picks  # the most loaded never wins a pair
    assert set(picks) == {0, 1}  # ... and 1 wins when paired with 2
    assert all(choose_replica([3, 8], capacity=10, rng=rng) == 0 for _ in range(20))


def test_choose_replica_skips_full_and_prefers() -> None:
    rng = random.Random(0)
    assert choose_replica([5, 1, 5], capacity=5, rng=rng) == 1
    assert choose_replica([0, 1], capacity=5, rng=rng, preferred=[False, True]) == 1
    assert choose_replica([0, 5], capacity=5, rng=rng, preferred=[False, True]) == 0  # preferred is full
    assert choose_replica([5, 5], capacity=5, rng=rng) is None
    assert choose_replica([], capacity=5, rng=rng) is None


def test_routing_table_longest_prefix() -> None:
    table = RoutingTable(1, {"a": AppRoute("a", "/", "A"), "b": AppRoute("b", "/api", "B"),
                             "c": AppRoute("c", None, "C")}, {})
    assert table.route("/api/x").name == "b" and table.route("/api").name == "b"
    assert table.route("/apix").name == "a" and table.route("/").name == "a"
    assert RoutingTable(1, {"b": AppRoute("b", "/api", "B")}, {}).route("/other") is None


# ---------------------------------------------------------------- autoscaling


def test_desired_replicas_tracks_the_target() -> None:
    cfg = AutoscalingConfig(min_replicas=1, max_replicas=5, target_ongoing_requests=2)
    assert [desired_replicas(cfg, current=2, load=n) for n in (0, 1, 2, 3, 4, 5, 100)] == [1, 1, 1, 2, 2, 3, 5]
    zero = AutoscalingConfig(min_replicas=0, max_replicas=2, target_ongoing_requests=1)
    assert desired_replicas(zero, current=1, load=0) == 0
    with pytest.raises(ValueError):
        desired_replicas(cfg, current=1, load=-1)


def test_policy_waits_for_the_delays() -> None:
    cfg = AutoscalingConfig(min_replicas=1, max_replicas=4, target_ongoing_requests=1,
                            upscale_delay_s=2.0, downscale_delay_s=5.0)
    p = ReplicaScaler(cfg)
    assert p.decide(now=0.0, current=1, load=4) == 1
    assert p.decide(now=1.0, current=1, load=3) == 1
    assert p.decide(now=2.0, current=1, load=3) == 3  # held 2 s
    assert p.decide(now=2.5, current=3, load=0) == 3
    assert p.decide(now=3.0, current=3, load=3) == 3  # content: the wish to go down resets
    assert p.decide(now=4.0, current=3, load=0) == 3
    assert p.decide(now=8.9, current=3, load=0) == 3
    assert p.decide(now=9.0, current=3, load=0) == 1


def test_policy_starts_from_zero_at_once() -> None:
    cfg = AutoscalingConfig(min_replicas=0, max_replicas=2, target_ongoing_requests=1, upscale_delay_s=60)
    p = ReplicaScaler(cfg)
    assert p.decide(now=0.0, current=0, load=1) == 1
    assert cfg.start_replicas() == 1


def test_autoscaling_config_checks() -> None:
    assert AutoscalingConfig.from_value({"min_replicas": 2, "max_replicas": 3}).start_replicas() == 2
    assert AutoscalingConfig.from_value({"target_num_ongoing_requests_per_replica": 4}).target_ongoing_requests == 4
    with pytest.raises(ValueError, match="unknown autoscaling_config key"):
        AutoscalingConfig.from_value({"max_replica": 3})
    with pytest.raises(ValueError, match="max_replicas"):
        AutoscalingConfig(min_replicas=3, max_replicas=2)
    with pytest.raises(ValueError, match="target_ongoing_requests"):
        AutoscalingConfig(target_ongoing_requests=0)
    with pytest.raises(ValueError, match="initial_replicas"):
        AutoscalingConfig(min_replicas=1, max_replicas=2, initial_replicas=3)


# ---------------------------------------------------------------- metrics


def test_prometheus_text() -> None:
    m = ProxyMetrics(lambda: {"replicas": {("app", "D"): 2}, "queued": {("app", "D"): 3}, "replica_stats": [
        {"application": "app", "deployment": "D", "replica": "r0", "ongoing": 1, "batches": {"f": {2: 3, 8: 1}}}]})
    for status in (200, 200, 500):
        m.observe_http("app", "/", "POST", status, 0.003)
    m.observe_deployment("app", "D", 0.002, False)
    text = m.render()
    assert 'serve_num_http_requests_total{application="app",method="POST",route="/",status_code="200"} 2.0' in text
    assert 'serve_num_http_error_requests_total{application="app",method="POST",route="/",status_code="500"} 1.0' \
        in text
    assert 'serve_http_request_latency_ms_bucket{application="app",le="5.0",route="/"} 3.0' in text
    assert 'serve_deployment_error_counter_total{application="app",deployment="D"} 1.0' in text
    assert 'serve_deployment_replicas{application="app",deployment="D"} 2.0' in text
    assert 'serve_deployment_queued_queries{application="app",deployment="D"} 3.0' in text
    assert 'serve_batch_size_bucket{application="app",deployment="D",function="f",le="2.0"} 3.0' in text
    assert 'serve_batch_size_count{application="app",deployment="D",function="f"} 4.0' in text


def test_error_body_unwraps_task_errors() -> None:
    wrapped = TaskError.wrap(KeyError("k"), "tb", "f")
    assert json.loads(error_response_body(wrapped)) == {"error": "KeyError", "message": "'k'"}
    unpicklable = wire.remote_error(wire.RemoteError("Weird", "it broke", "tb"), "D.f")
    assert json.loads(error_response_body(unpicklable)) == {"error": "Weird", "message": "it broke"}


def test_wire_errors_keep_their_class_and_traceback() -> None:
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        err = wire.remote_error(wire.encode_error(exc), "D.__call__")
    assert isinstance(err, ValueError) and isinstance(err, TaskError)
    assert "bad input" in str(err) and "raise ValueError" in err.remote_traceback


# ---------------------------------------------------------------- deployments


def test_deployment_defaults_and_options() -> None:
    @serve.deployment
    class Model:
        def __call__(self, x: Any) -> Any:
            return x

    cfg = Model.config
    assert (cfg.name, cfg.num_replicas, cfg.max_ongoing_requests, cfg.ray_actor_options, cfg.max_queued_requests,
            cfg.health_check_period_s, cfg.health_check_timeout_s, cfg.graceful_shutdown_timeout_s) == \
        ("Model", 1, 5, {"num_cpus": 1.0}, -1, 10.0, 30.0, 20.0)
    m2 = Model.options(num_replicas=3, ray_actor_options={"num_gpus": 1}, name="M2", user_config={"a": 1})
    assert (m2.name, m2.num_replicas, m2.ray_actor_options, m2.user_config) == \
        ("M2", 3, {"num_gpus": 1, "num_cpus": 1.0}, {"a": 1})
    auto = Model.options(num_replicas="auto")
    assert auto.config.autoscaling_config is not None and auto.config.autoscaling_config.max_replicas == 100
    scaled = Model.options(autoscaling_config={"min_replicas": 2, "max_replicas": 4})
    assert scaled.config.num_replicas == 2
    assert scaled.options(num_replicas=1).config.autoscaling_config is None
    app = Model.bind()
    assert app.deployment.name == "Model" and app.args == () and app.deployment.init_args == ()
    with pytest.raises(TypeError, match="cannot be called directly"):
        Model()


def test_deployment_argument_errors() -> None:
    with pytest.raises(ValueError, match="cannot both be set"):
        serve.deployment(num_replicas=2, autoscaling_config={"max_replicas": 3})(lambda x: x)
    with pytest.raises(ValueError, match="max_ongoing_requests"):
        serve.deployment(max_ongoing_requests=0)(lambda x: x)
    with pytest.raises(ValueError, match="max_queued_requests"):
        serve.deployment(max_queued_requests=-2)(lambda x: x)
    with pytest.raises(ValueError, match="num_replicas"):
        serve.deployment(num_replicas=-1)(lambda x: x)
    with pytest.raises(ValueError, match="unknown ray_actor_options"):
        serve.deployment(ray_actor_options={"num_cpu": 1})(lambda x: x)
    with pytest.raises(ValueError, match="health_check_period_s"):
        serve.deployment(health_check_period_s=0)(lambda x: x)
    with pytest.raises(NotImplementedError, match="rolling_update_percentage"):
        serve.deployment(rolling_update_percentage=50)(lambda x: x)
    with pytest.raises(TypeError, match="unexpected argument"):
        serve.deployment(num_cpus=1)(lambda x: x)

    @serve.deployment
    def f(x: Any) -> Any:
        return x

    with pytest.raises(TypeError, match="takes no constructor arguments"):
        f.bind(1)


def test_options_checks() -> None:
    assert serve.HTTPOptions.from_value({"port": 0}).host == "127.0.0.1"
    with pytest.raises(ValueError, match="unknown http_options key"):
        serve.HTTPOptions.from_value({"prot": 1})
    with pytest.raises(ValueError, match="port"):
        serve.HTTPOptions(port=70000)
    with pytest.raises(ValueError, match="grpc_servicer_functions"):
        serve.gRPCOptions(grpc_servicer_functions=["nodot"])
    with pytest.raises(ValueError, match="proxy_location"):
        serve.start(proxy_location="Nowhere")


def test_status_shape() -> None:
    status = ServeStatus.from_dict({"proxies": {"local": "HEALTHY"}, "applications": {"a": {
        "status": "RUNNING", "message": "", "last_deployed_time_s": 1.0, "deployments": {"D": {
            "status": "UNHEALTHY", "status_trigger": "CONFIG_UPDATE_COMPLETED", "replica_states": {"STARTING": 1},
            "message": "boom"}}}}})
    dep = status.applications["a"].deployments["D"]
    assert dep.status is DeploymentStatus.UNHEALTHY and dep.message == "boom"
    assert status.applications["a"].status is ApplicationStatus.RUNNING


def test_multiplexed_cache_loads_once_and_evicts_lru() -> None:
    loads: list[str] = []

    class Models:
        @serve.multiplexed(max_num_models_per_replica=2)
        async def get_model(self, model_id: str) -> str:
            loads.append(model_id)
            await asyncio.sleep(0.01)
            return model_id.upper()

    m = Models()

    async def main() -> list[str]:
        first = await asyncio.gather(*(m.get_model("a") for _ in range(5)))
        await m.get_model("b")
        await m.get_model("a")  # a is fresh again: b is the LRU
        await m.get_model("c")  # evicts b
        await m.get_model("b")
        return first

    assert asyncio.run(main()) == ["A"] * 5
    assert loads == ["a", "b", "c", "b"]
    with pytest.raises(ValueError, match="max_num_models_per_replica"):
        serve.multiplexed(max_num_models_per_replica=0)


def test_the_replicas_socket_dir_binds_even_under_a_deep_temp_dir(tmp_path):
    """A socket path must fit in 107 bytes: a deep ``TMPDIR`` (a notebook's, a CI's) moves the
    socket directory to /tmp instead of failing every replica with "AF_UNIX path too long"."""
    import shutil
    import socket
    import stat
    import tempfile

    from streamdata.serve.deployment_state import make_socket_dir, replica_socket_name

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    short = tempfile.gettempdir()  # this run's own (conftest.py): /tmp/sd-pytest-...
    for base, under in ((short, short), (str(deep), "/tmp")):
        made = make_socket_dir(base)
        try:
            assert os.path.dirname(made) == under
            assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
            path = os.path.join(made, replica_socket_name("SERVE_REPLICA::app#Model#0-abcdef"))
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(path)
        finally:
            shutil.rmtree(made)
    with pytest.raises(OSError, match="too long"), socket.socket(socket.AF_UNIX) as server:
        server.bind(str(deep / "x.sock"))  # what the replicas met before


def test_a_custom_policy_gets_the_context_keeps_its_state_and_is_bounded() -> None:
    from streamdata.serve.autoscaling import AutoscalingPolicy, DeploymentID

    seen = []

    def policy(ctx):  # noqa: ANN001, ANN202 - Ray's policy signature
        seen.append((ctx.current_num_replicas, ctx.total_num_requests, ctx.policy_state.get("calls", 0),
                     ctx.deployment_id))
        return ctx.total_num_requests * 10, {"calls": ctx.policy_state.get("calls", 0) + 1}

    cfg = AutoscalingConfig(min_replicas=1, max_replicas=5, upscale_delay_s=0,
                            policy=AutoscalingPolicy(policy_function=policy))
    scaler = ReplicaScaler(cfg, DeploymentID("Model", "app"))
    assert scaler.decide(now=0.0, current=1, load=0) == 1  # 0 kept within min_replicas
    assert scaler.decide(now=1.0, current=1, load=3) == 5  # 30 kept within max_replicas
    assert seen == [(1, 0, 0, DeploymentID("Model", "app")), (1, 3, 1, DeploymentID("Model", "app"))]
    by_path = AutoscalingConfig.from_value({"max_replicas": 2, "policy": {"policy_function": "builtins:repr"}})
    with pytest.raises(TypeError, match="must return a replica count"):
        ReplicaScaler(by_path).decide(now=0.0, current=1, load=1)  # repr(context) is not a count
