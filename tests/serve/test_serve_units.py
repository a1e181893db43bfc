"""sd.serve pieces that need no runtime: @batch on an asyncio loop, the routing
choice, the autoscaling policy, metrics text, deployment options."""

from __future__ import annotations

import asyncio
import pickle
import random
from typing import Any

import pytest

from streamdata import serve
from streamdata.errors import TaskError, UDFReturnError
from streamdata.serve.autoscaling import AutoscalingConfig, AutoscalingPolicy, desired_replicas
from streamdata.serve.batching import batch_size_counts
from streamdata.serve.http_proxy import error_payload
from streamdata.serve.metrics import Histogram, MetricsRegistry
from streamdata.serve.router import choose_replica

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


def test_choose_replica_skips_full_and_unavailable() -> None:
    rng = random.Random(0)
    assert choose_replica([5, 1, 5], capacity=5, rng=rng) == 1
    assert choose_replica([0, 1], capacity=5, rng=rng, available=[False, True]) == 1
    assert choose_replica([5, 5], capacity=5, rng=rng) is None
    assert choose_replica([], capacity=5, rng=rng) is None


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
    p = AutoscalingPolicy(cfg)
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
    p = AutoscalingPolicy(cfg)
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
    reg = MetricsRegistry()
    c = reg.counter("x_total", "Xs.")
    c.inc({"app": 'a"b'})
    c.inc({"app": 'a"b'}, 2)
    h = reg.histogram("lat_seconds", "Latency.", [0.1, 1.0])
    for v in (0.05, 0.5, 0.5, 3.0):
        h.observe(v, {"d": "m"})
    text = reg.render()
    assert '# TYPE x_total counter\nx_total{app="a\\"b"} 3\n' in text
    assert 'lat_seconds_bucket{d="m",le="0.1"} 1\n' in text
    assert 'lat_seconds_bucket{d="m",le="1"} 3\n' in text
    assert 'lat_seconds_bucket{d="m",le="+Inf"} 4\n' in text
    assert 'lat_seconds_count{d="m"} 4\n' in text and 'lat_seconds_sum{d="m"} 4.05\n' in text


def test_histogram_counts_weighted_observations() -> None:
    h = Histogram("b", "Batch sizes.", [1, 2, 4])
    h.observe(4, count=3)
    h.observe(1)
    assert h.count() == 4
    assert 'b_bucket{le="2"} 1' in h.lines() and 'b_bucket{le="4"} 4' in h.lines()


def test_error_payload_unwraps_task_errors() -> None:
    wrapped = TaskError.wrap(KeyError("k"), "tb", "f")
    assert error_payload(wrapped) == {"error": "KeyError", "message": "'k'"}


# ---------------------------------------------------------------- deployments


def test_deployment_defaults_and_options() -> None:
    @serve.deployment
    class Model:
        def __call__(self, x: Any) -> Any:
            return x

    cfg = Model.config
    assert (cfg.name, cfg.num_replicas, cfg.max_ongoing_requests, cfg.actor_options) == \
        ("Model", 1, 5, {"num_cpus": 1.0})
    m2 = Model.options(num_replicas=3, num_gpus=1, name="M2")
    assert (m2.name, m2.config.num_replicas, m2.config.actor_options) == ("M2", 3, {"num_cpus": 1.0, "num_gpus": 1})
    auto = Model.options(num_replicas="auto")
    assert auto.config.autoscaling_config is not None and auto.config.autoscaling_config.max_replicas == 100
    scaled = Model.options(autoscaling_config={"min_replicas": 2, "max_replicas": 4})
    assert scaled.config.num_replicas == 2
    app = Model.bind()
    assert app.deployment is Model and app.args == ()
    with pytest.raises(TypeError, match="cannot be called directly"):
        Model()


def test_deployment_argument_errors() -> None:
    with pytest.raises(ValueError, match="cannot both be set"):
        serve.deployment(num_replicas=2, autoscaling_config={"max_replicas": 3})(lambda x: x)
    with pytest.raises(ValueError, match="max_ongoing_requests"):
        serve.deployment(max_ongoing_requests=0)(lambda x: x)
    with pytest.raises(ValueError, match="num_replicas"):
        serve.deployment(num_replicas=-1)(lambda x: x)
    with pytest.raises(ValueError, match="unknown replica actor option"):
        serve.deployment(ray_actor_options={"num_cpu": 1})(lambda x: x)

    @serve.deployment
    def f(x: Any) -> Any:
        return x

    with pytest.raises(TypeError, match="takes no constructor arguments"):
        f.bind(1)
