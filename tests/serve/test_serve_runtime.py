"""sd.serve on the real runtime: replica actors, handles, batching inside a
replica, power-of-two routing under load, autoscaling, composition, and the HTTP
ingress on 127.0.0.1 (200/400/404/500/503, healthz, metrics)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterator

import pytest

import streamdata as sd
from streamdata import serve
from streamdata.errors import ActorDiedError, GetTimeoutError, UDFReturnError


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    yield
    serve.shutdown()
    gc.collect()
    sd.shutdown()


@pytest.fixture(autouse=True)
def clean_serve() -> Iterator[None]:
    yield
    serve.shutdown()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Wait for ``predicate`` (checked every 20 ms) at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@sd.remote
class Gate:
    """Holds callers until opened; counts who waits (an async actor)."""

    def __init__(self) -> None:
        self.waiting = 0
        self.opened: asyncio.Event | None = None
        self.changed: asyncio.Condition | None = None

    def _init(self) -> None:
        if self.opened is None:
            self.opened, self.changed = asyncio.Event(), asyncio.Condition()

    async def wait(self) -> None:
        self._init()
        async with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        await self.opened.wait()

    async def wait_for_waiters(self, n: int) -> int:
        self._init()
        async with self.changed:
            await self.changed.wait_for(lambda: self.waiting >= n)
        return self.waiting

    async def open(self) -> None:
        self._init()
        self.opened.set()


def post(url: str, body: bytes, timeout: float = 30) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# ---------------------------------------------------------------- handles


@serve.deployment(num_cpus=0)
class Calculator:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, x: int) -> int:
        return x + self.offset

    async def times(self, x: int) -> int:
        return x * self.offset

    def fail(self, x: Any) -> None:
        raise ValueError(f"cannot take {x!r}")

    def pid(self, _: Any = None) -> int:
        return os.getpid()


def test_handle_calls_sync_async_and_errors() -> None:
    handle = serve.run(Calculator.bind(10), name="calc")
    assert handle.remote(5).result() == 15
    assert handle.times.remote(3).result(timeout_s=30) == 30
    assert handle.options(method_name="times").remote(4).result() == 40

    async def in_async_code() -> list:
        return [await handle.remote(1), await handle.times.remote(2)]
    assert asyncio.run(in_async_code()) == [11, 20]

    with pytest.raises(ValueError, match="cannot take 7"):
        handle.fail.remote(7).result()
    with pytest.raises(AttributeError, match="no method 'nope'"):
        handle.nope.remote(1).result()
    assert serve.get_app_handle("calc").remote(0).result() == 10
    assert serve.status()["calc"]["Calculator"]["replicas"] == 1


def test_killed_replica_restarts() -> None:
    handle = serve.run(Calculator.bind(1), name="restart")
    pid = handle.pid.remote().result()
    os.kill(pid, signal.SIGKILL)

    def answers_again() -> bool:
        try:
            return handle.pid.remote().result(timeout_s=10) != pid
        except Exception:  # noqa: BLE001 - the call that met the dead process
            return False
    wait_until(answers_again, what="the replica to come back")
    assert handle.remote(1).result() == 2


def test_constructor_error_fails_run() -> None:
    @serve.deployment(num_cpus=0)
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("no weights")

    with pytest.raises(ActorDiedError, match="no weights"):  # the constructor's traceback
        serve.run(Broken.bind(), name="broken")
    assert "broken" not in serve.status()


@serve.deployment(num_cpus=0)
class Doubler:
    async def __call__(self, x: int) -> int:
        return 2 * x


@serve.deployment(num_cpus=0)
class Pipeline:
    def __init__(self, doubler: Any, calc: Any) -> None:
        self.doubler, self.calc = doubler, calc

    async def __call__(self, x: int) -> int:
        return await self.calc.remote(await self.doubler.remote(x))


def test_composition_passes_handles() -> None:
    handle = serve.run(Pipeline.bind(Doubler.bind(), Calculator.bind(100)), name="pipe")
    assert [handle.remote(i).result() for i in range(3)] == [100, 102, 104]
    assert sorted(serve.status()["pipe"]) == ["Calculator", "Doubler", "Pipeline"]


# ---------------------------------------------------------------- batching in a replica


@serve.deployment(num_cpus=0, max_ongoing_requests=32)
class BatchModel:
    @serve.batch(max_batch_size=4, batch_wait_timeout_s=5.0)
    async def __call__(self, xs: list[int]) -> list[dict]:
        return [{"x": x, "batch": len(xs)} for x in xs]

    @serve.batch(max_batch_size=3, batch_wait_timeout_s=5.0)
    async def broken(self, xs: list[int]) -> list[int]:
        return xs[:1]


def test_concurrent_requests_are_batched_in_the_replica() -> None:
    handle = serve.run(BatchModel.bind(), name="batch", http_port=0)
    responses = [handle.remote(i) for i in range(8)]
    out = [r.result(timeout_s=30) for r in responses]
    assert [o["x"] for o in out] == list(range(8))
    assert [o["batch"] for o in out] == [4] * 8  # two full batches of max_batch_size
    text = get(serve.http_address() + "/metrics")[1]
    assert ('streamdata_serve_batch_size_count{application="batch",deployment="BatchModel",'
            'function="BatchModel.__call__"} 2') in text
    assert ('streamdata_serve_batch_size_bucket{application="batch",deployment="BatchModel",'
            'function="BatchModel.__call__",le="4"} 2') in text

    wrong = [handle.broken.remote(i) for i in range(3)]
    for r in wrong:  # every caller of the batch learns the body returned too few results
        with pytest.raises(UDFReturnError, match="returned 1 results for a batch of 3"):
            r.result(timeout_s=30)


# ---------------------------------------------------------------- routing, back pressure, HTTP


@serve.deployment(num_cpus=0, num_replicas=2, max_ongoing_requests=2)
class Held:
    def __init__(self, gate: Any) -> None:
        self.gate = gate

    async def __call__(self, x: Any) -> dict:
        await self.gate.wait.remote()
        return {"x": x, "pid": os.getpid()}


def test_routing_fills_both_replicas_then_queues_handles_and_refuses_http() -> None:
    gate = Gate.remote()
    handle = serve.run(Held.bind(gate), name="held", http_port=0)
    url = serve.http_address()
    first = [handle.remote(i) for i in range(4)]
    assert sd.get(gate.wait_for_waiters.remote(4), timeout=30) == 4  # 2 replicas x 2 slots busy
    queued = handle.remote(4)  # a handle call waits for a free slot ...
    assert serve.status()["held"]["Held"]["queued"] == 1
    with pytest.raises(GetTimeoutError):
        queued.result(timeout_s=0.05)
    code, body = post(url + "/", b'"x"')  # ... the HTTP ingress answers 503 at once
    assert code == 503 and body["error"] == "BackPressureError"
    assert "max_ongoing_requests" in body["message"]
    sd.get(gate.open.remote())
    results = [r.result(timeout_s=30) for r in first]
    pids = [r["pid"] for r in results]
    assert len(set(pids)) == 2 and sorted(pids.count(p) for p in set(pids)) == [2, 2]
    assert queued.result(timeout_s=30)["x"] == 4
    code, body = post(url + "/", b'{"a": [1, 2]}')  # free slots again: HTTP is served
    assert code == 200 and body["x"] == {"a": [1, 2]} and body["pid"] in pids


@serve.deployment(num_cpus=0)
class JsonModel:
    def __call__(self, body: Any) -> Any:
        if isinstance(body, dict) and "boom" in body:
            raise KeyError(body["boom"])
        if body == "set":
            return {1, 2}
        return {"echo": body}


def test_http_ingress() -> None:
    serve.run(JsonModel.bind(), name="json", route_prefix="/model", http_port=0)
    url = serve.http_address()
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert post(url + "/model", b'{"a": 1}') == (200, {"echo": {"a": 1}})
    assert post(url + "/model/sub/path", b"[1, 2]") == (200, {"echo": [1, 2]})
    assert post(url + "/model", b"") == (200, {"echo": None})
    code, body = post(url + "/model", b'{"boom": "k"}')
    assert code == 500 and body == {"error": "KeyError", "message": "'k'"}
    code, body = post(url + "/model", b'"set"')
    assert code == 500 and body["error"] == "TypeError"
    code, body = post(url + "/model", b"{not json")
    assert code == 400 and body["error"] == "BadRequest"
    assert post(url + "/other", b"1")[0] == 404
    assert get(url + "/model")[0] == 405
    assert get(url + "/-/healthz") == (200, "success")
    assert json.loads(get(url + "/-/routes")[1]) == {"/model": "json"}
    code, text = get(url + "/metrics")
    assert code == 200
    assert 'streamdata_serve_http_requests_total{code="200",method="POST",route="/model"} 3' in text
    assert 'streamdata_serve_http_errors_total{code="500",method="POST",route="/model"} 2' in text
    assert 'streamdata_serve_deployment_errors_total{application="json",deployment="JsonModel"} 1' in text
    assert 'streamdata_serve_deployment_latency_seconds_count{application="json",deployment="JsonModel"} 5' in text
    assert "# TYPE streamdata_serve_http_request_latency_seconds histogram" in text
    assert 'streamdata_serve_deployment_replicas{application="json",deployment="JsonModel"} 1' in text


# ---------------------------------------------------------------- autoscaling


@serve.deployment(num_cpus=0, max_ongoing_requests=4,
                  autoscaling_config={"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 1,
                                      "upscale_delay_s": 0, "downscale_delay_s": 0, "metrics_interval_s": 0.05})
class Elastic:
    def __init__(self, gate: Any) -> None:
        self.gate = gate

    async def __call__(self, x: int) -> int:
        await self.gate.wait.remote()
        return x


def test_autoscaling_follows_the_load() -> None:
    gate = Gate.remote()
    handle = serve.run(Elastic.bind(gate), name="elastic")

    def replicas() -> int:
        return serve.status()["elastic"]["Elastic"]["replicas"]

    assert replicas() == 1
    held = [handle.remote(i) for i in range(3)]  # 3 in flight, target 1 per replica
    wait_until(lambda: replicas() == 3, what="3 replicas")
    sd.get(gate.open.remote())
    assert [r.result(timeout_s=30) for r in held] == [0, 1, 2]
    wait_until(lambda: replicas() == 1, what="scaling back to 1 replica")
    assert handle.remote(7).result(timeout_s=30) == 7


@serve.deployment(num_cpus=0, autoscaling_config={"min_replicas": 0, "max_replicas": 1, "initial_replicas": 0,
                                                  "downscale_delay_s": 0, "metrics_interval_s": 0.05})
def from_zero(x: Any) -> Any:
    return {"got": x}


def test_scale_from_zero_serves_http_requests() -> None:
    serve.run(from_zero.bind(), name="zero", http_port=0)
    assert serve.status()["zero"]["from_zero"]["replicas"] == 0
    assert post(serve.http_address() + "/", b"5") == (200, {"got": 5})  # waits for a replica, no 503
    wait_until(lambda: serve.status()["zero"]["from_zero"]["replicas"] == 0, what="scaling back to zero")
