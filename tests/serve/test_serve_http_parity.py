"""What Ray Serve's docs rely on in HTTP and handles, through the real proxy (Uvicorn)
and replica actors: handlers that take no request, FastAPI's JSON encoding of return
values, ``X-Request-ID``, ``@serve.ingress`` with an app builder, streaming
``@serve.batch``, batch settings changed in ``reconfigure``, ``DeploymentResponse``
as an object ref, and the ``starlette.requests`` import ``from ray import serve`` makes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import streamdata as sd
from streamdata import serve

NO_CPU = {"num_cpus": 0}


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0})
    yield
    serve.shutdown()
    sd.shutdown()


@pytest.fixture(scope="module")
def url() -> str:
    return serve.http_address()


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


class Item(BaseModel):
    name: str
    price: float


@serve.deployment(ray_actor_options=NO_CPU)
class NoRequest:
    def __call__(self) -> str:
        return "no request needed"


@serve.deployment(ray_actor_options=NO_CPU)
class Values:
    async def __call__(self, request: Any) -> Any:
        kind = request.query_params["kind"]
        return {"model": Item(name="pen", price=1.5), "numpy": np.arange(3), "scalar": np.int64(7),
                "frame": pd.DataFrame({"a": [1, 2]}), "params": request.query_params,
                "none": None, "bytes": b"raw"}[kind]


def test_a_handler_without_a_request_argument(url: str) -> None:
    serve.run(NoRequest.bind(), name="norequest", route_prefix="/norequest")
    response = httpx.get(f"{url}/norequest", timeout=30)
    assert response.status_code == 200 and response.text == "no request needed"


@pytest.mark.parametrize("kind, body, content_type", [
    ("model", '{"name":"pen","price":1.5}', "application/json"),
    ("numpy", "[0,1,2]", "application/json"),
    ("scalar", "7", "application/json"),
    ("frame", '[{"a":1},{"a":2}]', "application/json"),
    ("params", '{"kind":"params"}', "application/json"),
    ("none", "", "text/plain"),
    ("bytes", "raw", "text/plain"),
])
def test_return_values_are_encoded_as_ray_serve_encodes_them(url: str, kind: str, body: str,
                                                            content_type: str) -> None:
    serve.run(Values.bind(), name="values", route_prefix="/values")
    response = httpx.get(f"{url}/values", params={"kind": kind}, timeout=30)
    assert response.status_code == 200 and response.text == body
    assert response.headers["content-type"].startswith(content_type)


@serve.deployment(ray_actor_options=NO_CPU)
class RequestId:
    def __call__(self) -> str:
        return serve.context.get_request_context().request_id


def test_x_request_id_is_the_requests_id_and_comes_back(url: str) -> None:
    serve.run(RequestId.bind(), name="reqid", route_prefix="/reqid")
    given = httpx.get(f"{url}/reqid", headers={"X-Request-ID": "123-234"}, timeout=30)
    assert given.headers["x-request-id"] == "123-234" and given.text == "123-234"
    made = httpx.get(f"{url}/reqid", timeout=30)
    assert made.headers["x-request-id"] == made.text and len(made.text) == 36  # a UUID
    missing = httpx.get(f"{url}/nowhere", timeout=30)
    assert missing.status_code == 404


def build_app() -> Any:
    """An app made on the replica (a builder, as Ray's docs pass to serve.ingress)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    def root() -> dict:
        return {"built_in": os.getpid()}

    return app


def test_ingress_with_an_app_builder_and_no_class(url: str) -> None:
    serve.run(serve.deployment(serve.ingress(build_app)(), ray_actor_options=NO_CPU).bind(), name="built",
              route_prefix="/built")
    response = httpx.get(f"{url}/built/", timeout=30)
    assert response.status_code == 200 and response.json()["built_in"] != os.getpid()  # made on the replica


@serve.deployment(ray_actor_options=NO_CPU, user_config={"max_batch_size": 4})
class Batched:
    def reconfigure(self, config: dict) -> None:
        self.count.set_max_batch_size(config["max_batch_size"])
        self.count.set_batch_wait_timeout_s(0.2)

    @serve.batch(max_batch_size=2, batch_wait_timeout_s=0.01)
    async def count(self, items: list) -> list:
        return [len(items)] * len(items)

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.1)
    async def countdown(self, starts: list) -> Any:
        for step in range(max(starts)):
            yield [s - step if s - step > 0 else StopIteration for s in starts]

    async def __call__(self, n: int) -> list:
        return list(await asyncio.gather(*(self.count(i) for i in range(n))))


def test_batch_settings_set_in_reconfigure_apply() -> None:
    handle = serve.run(Batched.bind(), name="batched")
    assert handle.remote(4).result(timeout_s=60) == [4, 4, 4, 4]  # 4 from user_config, not the decorator's 2
    handle = serve.run(Batched.options(user_config={"max_batch_size": 1}).bind(), name="batched")
    assert handle.remote(3).result(timeout_s=60) == [1, 1, 1]


def test_a_streaming_batch_gives_each_caller_its_own_stream() -> None:
    handle = serve.run(Batched.bind(), name="batched").options(stream=True)
    streams = [handle.countdown.remote(n) for n in (3, 1, 2)]
    assert [list(s) for s in streams] == [[3, 2, 1], [1], [2, 1]]


def test_a_response_as_an_object_ref() -> None:
    handle = serve.run(Batched.bind(), name="batched")
    ref = handle.remote(2)._to_object_ref_sync(_timeout_s=60)
    assert isinstance(ref, sd.ObjectRef) and sd.get(ref) == [2, 2]


def test_importing_serve_imports_starlette_requests_as_ray_serve_does() -> None:
    code = "import starlette\nfrom streamdata import serve\nprint(starlette.requests.Request.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "Request"


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=1, max_queued_requests=0,
                  backpressure_config=serve.BackpressureConfig(status_code=429, retry_after_s=4.5))
class Busy:
    def __call__(self, request: Any) -> str:
        import time

        hold = request.query_params["hold"]
        open(hold + ".started", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.01)  # the request's work: it lasts until the test lets it go
        return "done"


def test_a_refused_request_gets_the_backpressure_config_answer(url: str, tmp_path: Any) -> None:
    import threading

    from _serve_util import wait_until

    hold = str(tmp_path / "release")
    serve.run(Busy.bind(), name="busy", route_prefix="/busy")
    first: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: first.append(httpx.get(f"{url}/busy", params={"hold": hold},
                                                                   timeout=60)))
    worker.start()
    try:
        wait_until(lambda: os.path.exists(hold + ".started"), what="the first request in the replica")
        refused = httpx.get(f"{url}/busy", params={"hold": hold}, timeout=60)  # the one slot is taken
    finally:
        open(hold, "w").close()
        worker.join(60)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    assert refused.json()["error"] == "BackPressureError"
    assert first[0].status_code == 200 and first[0].text == "done"
    with pytest.raises(ValueError, match="503 or 429"):
        serve.BackpressureConfig(status_code=500)


SCRIPT_MAIN_CLASSES = """
from dataclasses import dataclass
import streamdata as sd
from streamdata import serve

@dataclass
class Graph:  # defined in the script (__main__): the replica cannot import it
    nodes: int

@serve.deployment(ray_actor_options={"num_cpus": 0})
class Sizer:
    def __call__(self, graph):
        return Graph(graph.nodes * 2)

sd.init(num_cpus=1)
serve.start(http_options={"port": 0})  # not 8000: another process on this machine may hold it
print(serve.run(Sizer.bind()).remote(Graph(21)).result(timeout_s=60).nodes)
serve.shutdown()
"""


def test_a_scripts_own_classes_travel_to_replicas_and_back() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT_MAIN_CLASSES], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "42"


SCRIPT_UNSCHEDULABLE = """
import threading, time
import streamdata as sd
from streamdata import serve

@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 1})
class TooBig:  # the second replica waits for the CPU the first holds
    def __call__(self):
        return "never"

sd.init(num_cpus=1)
serve.start(http_options={"port": 0})
threading.Thread(target=lambda: serve.run(TooBig.bind(), name="big"), daemon=True).start()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    app = serve.status().applications.get("big")
    message = app.deployments["TooBig"].message if app and "TooBig" in app.deployments else ""
    if "to be scheduled" in message:
        print(message)
        break
    time.sleep(0.05)
serve.shutdown()
"""


def test_a_replica_that_cannot_be_scheduled_is_reported() -> None:
    env = {**os.environ, "STREAMDATA_SERVE_SCHEDULING_WARNING_S": "0.5"}
    out = subprocess.run([sys.executable, "-c", SCRIPT_UNSCHEDULABLE], capture_output=True, text=True, timeout=120,
                         env=env)
    assert "has taken more than 0.5s to be scheduled: it needs {'num_cpus': 1}" in out.stdout, out.stderr[-2000:]
    assert "available of {'CPU': 1.0" in out.stdout  # what the cluster has


def two_replicas(ctx: Any) -> tuple:
    """A custom policy (Ray's signature): two replicas, counting its calls in its state."""
    return 2, {"calls": ctx.policy_state.get("calls", 0) + 1}


@serve.deployment(ray_actor_options=NO_CPU, autoscaling_config=serve.AutoscalingConfig(
    min_replicas=1, max_replicas=3, upscale_delay_s=0, policy={"policy_function": two_replicas}))
class Scaled:
    def __call__(self) -> int:
        return os.getpid()


def test_a_custom_autoscaling_policy_sets_the_replica_count() -> None:
    from _serve_util import wait_until

    handle = serve.run(Scaled.bind(), name="scaled")

    def replicas() -> int:
        return serve.status().applications["scaled"].deployments["Scaled"].replica_states.get("RUNNING", 0)

    wait_until(lambda: replicas() == 2, what="two running replicas")
    wait_until(lambda: len({handle.remote().result(timeout_s=60) for _ in range(20)}) == 2,
               what="requests served by both replicas")
