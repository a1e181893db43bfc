"""DeploymentHandle and DeploymentResponse beyond ``remote()``, against real replicas and
the Uvicorn proxy: ``is_initialized``, ``running_replicas_populated()``,
``options(session_id=...)`` (and the ``x-session-id`` header), ``shutdown()`` /
``shutdown_async()``, ``DeploymentResponse.request_id`` and ``by_reference``."""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Iterator

import httpx
import pytest
from starlette.requests import Request

import streamdata as sd
from _serve_util import wait_until
from streamdata import serve

NO_CPU = {"num_cpus": 0}


@serve.deployment(num_replicas=2, ray_actor_options=NO_CPU)
class Who:
    def __call__(self, *_: object) -> dict:
        ctx = serve.context._get_serve_request_context()
        return {"replica": serve.get_replica_context().replica_id.unique_id, "request_id": ctx.request_id,
                "session_id": ctx.session_id}

    async def slow(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"


@serve.deployment(ray_actor_options=NO_CPU)
class Outer:
    def __init__(self, inner: serve.handle.DeploymentHandle) -> None:
        self.inner = inner

    async def __call__(self) -> tuple[str, str]:
        mine = serve.context._get_serve_request_context().request_id
        response = self.inner.remote()
        theirs = (await response)["request_id"]
        return mine, theirs, response.request_id


def _total_tokens(texts: list) -> int:
    return sum(len(t.split()) for t in texts)


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=32)
class Tokens:
    @serve.batch(max_batch_size=6, batch_wait_timeout_s=0.5, batch_size_fn=_total_tokens)
    async def handle(self, texts: list) -> list:
        return [_total_tokens(texts)] * len(texts)  # each caller sees the size of its batch

    async def __call__(self, request: Request) -> int:
        return await self.handle((await request.body()).decode())


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0})
    serve.run(Who.bind(), name="who", route_prefix="/who")
    yield serve.http_address()
    serve.shutdown()
    gc.collect()
    sd.shutdown()


def test_initialized_populated_request_id_and_by_reference(url: str) -> None:
    handle = serve.get_deployment_handle("Who", "who")
    assert not handle.is_initialized and not handle.running_replicas_populated()
    copy = handle.options(method_name="__call__")
    assert handle.is_initialized and copy.is_initialized  # options() initializes, as Ray
    wait_until(copy.running_replicas_populated, 30, "the router to learn the replicas")
    response = copy.remote()
    answer = response.result(timeout_s=60)
    assert str(uuid.UUID(response.request_id)) == response.request_id
    assert answer["request_id"] == response.request_id and response.by_reference is False
    assert copy.remote().request_id != response.request_id
    fresh = serve.get_deployment_handle("Who", "who")
    fresh.remote().result(timeout_s=60)
    assert fresh.is_initialized  # remote() initializes too
    with pytest.raises(TypeError, match="session_id"):
        handle.options(session_id=3)
    with pytest.raises(NotImplementedError, match="request_serialization"):
        handle.options(request_serialization="msgpack")


def test_session_id_sticks_to_one_replica(url: str) -> None:
    handle = serve.get_deployment_handle("Who", "who")
    wait_until(lambda: serve.status().applications["who"].deployments["Who"].replica_states == {"RUNNING": 2},
               60, "two running replicas")
    # without a session both replicas serve (once this process's router learned of both)
    wait_until(lambda: len({handle.remote().result(timeout_s=60)["replica"] for _ in range(10)}) == 2, 60,
               "both replicas to serve requests without a session")
    for session in ("alpha", "beta"):
        sticky = handle.options(session_id=session)
        answers = [sticky.remote().result(timeout_s=60) for _ in range(20)]
        assert len({a["replica"] for a in answers}) == 1, answers
        assert {a["session_id"] for a in answers} == {session}
    with httpx.Client(base_url=url, timeout=60) as http:
        seen = {http.get("/who", headers={"X-Session-Id": "web"}).json()["replica"] for _ in range(20)}
        assert len(seen) == 1
        assert http.get("/who", headers={"x_session_id": "web2"}).json()["session_id"] == "web2"


def test_request_id_travels_to_nested_calls(url: str) -> None:
    outer = serve.run(Outer.bind(Who.options(num_replicas=1).bind()), name="outer", route_prefix=None)
    mine, theirs, response_id = outer.remote().result(timeout_s=60)
    assert mine and mine == theirs == response_id  # a call made while serving carries the request's id
    serve.delete("outer")


def test_shutdown_waits_for_requests_then_a_new_router_serves(url: str) -> None:
    handle = serve.get_deployment_handle("Who", "who")
    in_flight = handle.slow.remote(0.5)
    wait_until(lambda: handle.running_replicas_populated(), 30)
    handle.shutdown()
    assert in_flight.done() and in_flight.result() == "done"  # shutdown waited for it
    assert handle.remote().result(timeout_s=60)["replica"]  # a later call sets up a new router

    async def main() -> str:
        pending = handle.slow.remote(0.3)
        await handle.shutdown_async()
        assert pending.done()
        return await pending

    assert asyncio.run(main()) == "done"
    assert handle.remote().result(timeout_s=60)["replica"]
    serve.get_deployment_handle("Who", "who").shutdown()  # never initialized: nothing to do


def test_batch_size_fn_in_a_replica_over_http(url: str) -> None:
    serve.run(Tokens.bind(), name="tokens", route_prefix="/tokens")
    texts = ["a b c", "d e", "f", "g h i j", "k l m n o p q"]  # 3 + 2 + 1 | 4 | 7: too big alone

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return list(await asyncio.gather(*(client.post("/tokens", content=t) for t in texts)))

    responses = asyncio.run(burst())
    sizes = [r.json() if r.status_code == 200 else r.status_code for r in responses]
    assert sizes[4] == 500 and "greater than max_batch_size=6" in responses[4].text
    assert all(isinstance(s, int) and s <= 6 for s in sizes[:4]) and max(sizes[:4]) > 1  # batched, within 6 tokens
    serve.delete("tokens")
