"""sd.serve on the real runtime: the controller, proxy and replica actors; handles,
composition, streaming, multiplexing, user_config, health checks, status; HTTP
through Uvicorn (Starlette requests, responses, streaming, FastAPI ingress,
errors, 503, healthz, routes, metrics) and a latency guard."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from typing import Any, Iterator

import httpx
import pytest
from conftest import wait_until
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import StreamingResponse

import streamdata as sd
from streamdata import serve
from streamdata.errors import BackPressureError

NO_CPU = {"num_cpus": 0}


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    serve.start(http_options={"port": 0})
    yield
    serve.shutdown()
    sd.shutdown()


@pytest.fixture(scope="module")
def url() -> str:
    address = serve.http_address()
    assert address is not None and address.startswith("http://127.0.0.1:")
    return address


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


# ---------------------------------------------------------------- handles

@serve.deployment(ray_actor_options=NO_CPU)
class Calculator:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.context = serve.get_replica_context()

    def __call__(self, x: int) -> int:
        return x + self.offset

    async def times(self, x: int) -> int:
        return x * self.offset

    def fail(self, x: Any) -> None:
        raise ValueError(f"cannot take {x!r}")

    def count(self, n: int) -> Iterator[int]:
        for i in range(n):
            yield i * self.offset

    def whoami(self) -> tuple:
        ctx = serve.get_replica_context()
        return ctx.app_name, ctx.deployment, ctx.replica_tag == self.context.replica_tag, os.getpid()


def test_handle_calls_streams_and_errors() -> None:
    handle = serve.run(Calculator.bind(10), name="calc", route_prefix=None)
    assert handle.remote(5).result() == 15
    assert handle.times.remote(3).result(timeout_s=30) == 30
    assert handle.options(method_name="times").remote(4).result() == 40
    assert handle.whoami.remote().result()[:3] == ("calc", "Calculator", True)
    assert list(handle.options(method_name="count", stream=True).remote(4)) == [0, 10, 20, 30]

    async def in_async_code() -> list:
        stream = handle.options(method_name="count", stream=True).remote(2)
        return [await handle.remote(1), await handle.times.remote(2), [x async for x in stream]]
    assert asyncio.run(in_async_code()) == [11, 20, [0, 10]]
    # a response passed as an argument is resolved first
    assert handle.times.remote(handle.remote(1)).result() == 110

    with pytest.raises(ValueError, match="cannot take 7"):
        handle.fail.remote(7).result()
    with pytest.raises(AttributeError, match="no method 'nope'"):
        handle.nope.remote(1).result()
    with pytest.raises(TypeError, match="not a generator"):
        list(handle.options(stream=True).remote(1))
    assert serve.get_app_handle("calc").remote(0).result() == 10
    assert serve.get_deployment_handle("Calculator", "calc").times.remote(1).result() == 10
    with pytest.raises(KeyError, match="no application named 'nope'"):
        serve.get_app_handle("nope")
    with pytest.raises(KeyError, match="has no deployment 'Nope'"):
        serve.get_deployment_handle("Nope", "calc")


@serve.deployment(ray_actor_options=NO_CPU)
class Doubler:
    def __call__(self, x: int) -> int:
        return 2 * x


@serve.deployment(ray_actor_options=NO_CPU)
class Pipeline:
    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    async def __call__(self, x: int) -> int:
        return await self.second.remote(self.first.remote(x))  # a response passed on unresolved


def test_composition_through_bind() -> None:
    handle = serve.run(Pipeline.bind(Doubler.bind(), Calculator.bind(100)), name="pipe", route_prefix=None)
    assert handle.remote(1).result() == 102
    deployments = serve.status().applications["pipe"].deployments
    assert sorted(deployments) == ["Calculator", "Doubler", "Pipeline"]
    assert all(d.status.value == "HEALTHY" for d in deployments.values())


@serve.deployment(ray_actor_options=NO_CPU)
class Broken:
    def __init__(self) -> None:
        raise RuntimeError("no model file")


def test_constructor_error_fails_run() -> None:
    with pytest.raises(RuntimeError, match="no model file"):
        serve.run(Broken.bind(), name="broken", route_prefix=None)
    assert serve.status().applications["broken"].status.value == "DEPLOY_FAILED"


@serve.deployment(ray_actor_options=NO_CPU, user_config={"greeting": "hello"})
class Configurable:
    def __init__(self) -> None:
        self.greeting = None

    def reconfigure(self, config: dict) -> None:
        self.greeting = config["greeting"]

    def __call__(self, name: str) -> tuple:
        return f"{self.greeting} {name}", os.getpid()


def test_user_config_reaches_reconfigure_and_updates_in_place() -> None:
    handle = serve.run(Configurable.bind(), name="cfg", route_prefix=None)
    text, pid = handle.remote("you").result()
    assert text == "hello you"
    handle = serve.run(Configurable.options(user_config={"greeting": "hi"}).bind(), name="cfg", route_prefix=None)
    text, pid2 = handle.remote("you").result()
    assert (text, pid2) == ("hi you", pid)  # the same replica, reconfigured


@serve.deployment(ray_actor_options=NO_CPU, health_check_period_s=0.1, health_check_timeout_s=5)
class Fragile:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def check_health(self) -> None:
        if os.path.exists(self.marker):
            raise RuntimeError("marked unhealthy")

    def __call__(self) -> int:
        return os.getpid()


def test_failed_health_check_replaces_the_replica() -> None:
    marker = os.path.join(tempfile.mkdtemp(), "unhealthy")
    handle = serve.run(Fragile.bind(marker), name="fragile", route_prefix=None)
    pid = handle.remote().result()
    open(marker, "w").close()
    wait_until(lambda: pid not in _pids(handle), what="the unhealthy replica to go")
    os.unlink(marker)
    wait_until(lambda: _pids(handle) and pid not in _pids(handle), what="a new replica to serve")


def _pids(handle: Any, n: int = 1) -> set[int]:
    try:
        return {handle.remote().result(timeout_s=10) for _ in range(n)}
    except Exception:  # noqa: BLE001 - no replica right now
        return set()


@serve.deployment(ray_actor_options=NO_CPU, num_replicas=2)
class ModelHost:
    @serve.multiplexed(max_num_models_per_replica=2)
    async def get_model(self, model_id: str) -> str:
        return f"model-{model_id}@{os.getpid()}"

    async def __call__(self, request: Any = None) -> str:
        return await self.get_model(serve.get_multiplexed_model_id())


def test_multiplexed_models_stick_to_a_replica(url: str) -> None:
    handle = serve.run(ModelHost.bind(), name="mux", route_prefix="/mux")
    answers = {handle.options(multiplexed_model_id="a").remote().result() for _ in range(6)}
    assert len(answers) == 1 and answers.pop().startswith("model-a@")
    r = httpx.get(url + "/mux", headers={"serve_multiplexed_model_id": "b"}, timeout=30)
    assert r.status_code == 200 and r.text.startswith("model-b@")


# ---------------------------------------------------------------- HTTP

@serve.deployment(ray_actor_options=NO_CPU)
class Echo:
    async def __call__(self, request: Request) -> Any:
        kind = request.query_params.get("kind")
        if kind == "text":
            return "plain"
        if kind == "bytes":
            return b"\x00raw"
        if kind == "fail":
            raise KeyError("no such key")
        body = await request.body()
        return {"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                "json": await request.json() if body else None, "header": request.headers.get("x-demo")}


def test_http_requests_methods_and_return_values(url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with httpx.Client(base_url=url, timeout=30) as client:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            r = client.request(method, "/echo/sub?x=1", json={"a": [1, 2]}, headers={"x-demo": "d"})
            assert r.status_code == 200, r.text
            assert r.json() == {"method": method, "path": "/echo/sub", "query": {"x": "1"}, "json": {"a": [1, 2]},
                                "header": "d"}
        assert client.get("/echo?kind=text").text == "plain"
        assert client.get("/echo?kind=bytes").content == b"\x00raw"
        r = client.get("/echo?kind=fail")
        assert r.status_code == 500 and r.json() == {"error": "KeyError", "message": "'no such key'"}
        r = client.get("/nothing-here")
        assert r.status_code == 404
        assert client.get("/-/healthz").status_code == 200
        assert client.get("/-/routes").json() == {"/echo": "echo"}


@serve.deployment(ray_actor_options=NO_CPU)
class Streamer:
    def __call__(self, request: Request) -> StreamingResponse:
        release = request.query_params["release"]

        def chunks() -> Iterator[str]:
            yield "first\n"
            deadline = time.monotonic() + 30
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.01)  # the test releases the rest once it has read the first chunk
            for i in range(3):
                yield f"more{i}\n"

        return StreamingResponse(chunks(), media_type="text/plain")


def test_streaming_response_reaches_the_client_as_produced(url: str) -> None:
    serve.run(Streamer.bind(), name="stream", route_prefix="/stream")
    release = os.path.join(tempfile.mkdtemp(), "release")
    with httpx.stream("GET", f"{url}/stream", params={"release": release}, timeout=20) as r:
        lines = r.iter_lines()
        assert next(lines) == "first"  # arrives while the generator still waits for `release`
        open(release, "w").close()
        assert list(lines) == ["more0", "more1", "more2"]


fastapi_app = FastAPI()


class Order(BaseModel):
    item: str
    quantity: int


def current_user(x_user: str = "anonymous") -> str:
    return x_user


@serve.deployment(ray_actor_options=NO_CPU)
@serve.ingress(fastapi_app)
class Shop:
    def __init__(self, price: float) -> None:
        self.price = price

    @fastapi_app.get("/items/{item_id}")
    def item(self, item_id: int, detail: bool = False) -> dict:
        return {"item_id": item_id, "detail": detail, "price": self.price}

    @fastapi_app.post("/orders")
    async def order(self, order: Order, user: str = Depends(current_user)) -> dict:
        return {"user": user, "total": order.quantity * self.price, "item": order.item}


def test_fastapi_ingress_over_http(url: str) -> None:
    serve.run(Shop.bind(2.5), name="shop", route_prefix="/shop")
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/shop/items/3?detail=true").json() == {"item_id": 3, "detail": True, "price": 2.5}
        r = client.post("/shop/orders?x_user=ann", json={"item": "pen", "quantity": 4})
        assert r.json() == {"user": "ann", "total": 10.0, "item": "pen"}
        assert client.get("/shop/items/abc").status_code == 422
        assert client.post("/shop/orders", json={"item": "pen"}).status_code == 422


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=1, max_queued_requests=0)
class Blocker:
    def __init__(self, release: str) -> None:
        self.release = release

    async def __call__(self, request: Request) -> str:
        deadline = time.monotonic() + 30
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return "done"


def test_all_replicas_full_gives_503(url: str) -> None:
    release = os.path.join(tempfile.mkdtemp(), "release")
    serve.run(Blocker.bind(release), name="block", route_prefix="/block")
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(r=httpx.get(url + "/block", timeout=30)))
    t.start()
    wait_until(lambda: "serve_num_ongoing_http_requests 1.0" in httpx.get(url + "/metrics", timeout=30).text,
               what="the first request to be in flight")
    r = httpx.get(url + "/block", timeout=30)
    assert r.status_code == 503 and r.json()["error"] == "BackPressureError"
    # a handle in this process counts its own requests: its second one is refused
    handle = serve.get_app_handle("block")
    held = handle.remote(None)
    with pytest.raises(BackPressureError, match="max_queued_requests=0"):
        handle.remote(None).result()
    open(release, "w").close()
    t.join()
    assert first["r"].status_code == 200 and first["r"].text == "done"
    assert held.result(timeout_s=30) == "done"


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=32)
class Batched:
    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    async def __call__(self, requests: list) -> list:
        return [len(requests)] * len(requests)


def test_batched_http_requests_and_metrics(url: str) -> None:
    serve.run(Batched.bind(), name="batched", route_prefix="/batched")

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            rs = await asyncio.gather(*(client.post("/batched", json=i) for i in range(16)))
        return [r.json() for r in rs]

    sizes = asyncio.run(burst())
    assert max(sizes) > 1
    text = httpx.get(url + "/metrics", timeout=30).text
    assert 'serve_num_http_requests_total{application="batched",method="POST",route="/batched",status_code="200"} ' \
           '16.0' in text
    assert 'serve_http_request_latency_ms_count{application="batched",route="/batched"} 16.0' in text
    assert 'serve_deployment_replicas{application="batched",deployment="Batched"} 1.0' in text
    assert 'serve_deployment_queued_queries{application="batched",deployment="Batched"}' in text
    assert 'serve_batch_size_count{application="batched",deployment="Batched",function="Batched.__call__"}' in text


@serve.deployment(ray_actor_options=NO_CPU)
def trivial(request: Request) -> str:
    return "ok"


def test_latency_guard_no_nagle_stall(url: str) -> None:
    """A regression guard (not a benchmark): a response written in pieces on a
    keep-alive connection stalls ~40 ms (Nagle + delayed ACK)."""
    serve.run(trivial.bind(), name="trivial", route_prefix="/t")
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(5):
            client.get("/t")
        times = []
        for _ in range(50):
            start = time.perf_counter()
            assert client.get("/t").text == "ok"
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.025, f"p50 {statistics.median(times) * 1000:.1f} ms"


def test_two_applications_longest_prefix_and_delete(url: str) -> None:
    serve.run(trivial.bind(), name="root", route_prefix="/")
    serve.run(Echo.bind(), name="api", route_prefix="/api")
    with pytest.raises(Exception, match="route_prefix '/api' is taken"):
        serve.run(trivial.bind(), name="other", route_prefix="/api")
    assert httpx.get(url + "/anything", timeout=30).text == "ok"
    assert httpx.get(url + "/api/x?kind=text", timeout=30).text == "plain"
    serve.delete("api")
    assert "api" not in serve.status().applications
    assert httpx.get(url + "/api/x?kind=text", timeout=30).text == "ok"  # now the root app's


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=4, autoscaling_config={
    "min_replicas": 0, "max_replicas": 2, "target_ongoing_requests": 1, "upscale_delay_s": 0,
    "downscale_delay_s": 0.5, "metrics_interval_s": 0.05})
class Elastic:
    def __init__(self, release: str) -> None:
        self.release = release

    async def __call__(self, _: Any = None) -> int:
        deadline = time.monotonic() + 60
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return os.getpid()


def _replicas(app: str, deployment: str) -> int:
    return serve.status().applications[app].deployments[deployment].replica_states.get("RUNNING", 0)


def test_autoscaling_from_zero_up_and_down() -> None:
    release = os.path.join(tempfile.mkdtemp(), "release")
    handle = serve.run(Elastic.bind(release), name="elastic", route_prefix=None)
    wait_until(lambda: _replicas("elastic", "Elastic") == 0, what="the deployment to scale to zero")
    pending = [handle.remote() for _ in range(4)]  # wait for a replica: the controller starts one, then another
    wait_until(lambda: _replicas("elastic", "Elastic") == 2, what="scale up to max_replicas")
    open(release, "w").close()
    assert len({r.result(timeout_s=60) for r in pending}) >= 1
    wait_until(lambda: _replicas("elastic", "Elastic") == 0, what="scale back down to zero")

