"""The data plane without the runtime: a real ReplicaServer on a real Unix socket,
routers and connections talking to it, and the replica's HTTP adaptation
(Starlette requests and responses, FastAPI ingress) driven as ASGI."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Any, AsyncIterator

import pytest

from streamdata.errors import ActorDiedError, BackPressureError
from streamdata.serve import ingress, wire
from streamdata.serve.asgi import run_http
from streamdata.serve.context import (
    DeploymentID,
    ReplicaContext,
    ReplicaID,
    _set_replica_context,
    get_multiplexed_model_id,
)
from streamdata.serve.replica import ReplicaServer
from streamdata.serve.router import ReplicaInfo, Router


class Model:
    def __init__(self) -> None:
        self.gate = asyncio.Event()

    def __call__(self, x: int) -> int:
        return x * 2

    async def slow(self, x: int) -> int:
        await self.gate.wait()
        return x

    def open(self) -> None:
        self.gate.set()

    def count(self, n: int) -> Any:
        yield from range(n)

    async def acount(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    def fail(self) -> None:
        raise KeyError("missing")

    def model(self) -> str:
        return get_multiplexed_model_id()


async def _serve(obj: Any, name: str = "r0") -> tuple[ReplicaServer, str]:
    path = os.path.join(tempfile.mkdtemp(prefix="sd-test-"), f"{name}.sock")
    server = ReplicaServer(obj, "app", "Model", name)
    await server.listen(path)
    return server, path


def test_router_calls_streams_errors_and_model_ids() -> None:
    async def main() -> None:
        _, path = await _serve(Model())
        router = Router("app", "Model", max_ongoing_requests=4)
        router.update([ReplicaInfo("r0", path)])
        assert await router.call("__call__", (21,), {}) == 42
        assert [x async for x in router.stream("count", (3,), {})] == [0, 1, 2]
        assert [x async for x in router.stream("acount", (3,), {})] == [0, 1, 2]
        assert await router.call("model", (), {}, model_id="m7") == "m7"
        with pytest.raises(KeyError, match="missing"):
            await router.call("fail", (), {})
        with pytest.raises(AttributeError, match="no method 'nope'"):
            await router.call("nope", (), {})
        with pytest.raises(AttributeError, match="no method '_private'"):
            await router.call("_private", (), {})
        with pytest.raises(TypeError, match="not a generator"):
            [x async for x in router.stream("__call__", (1,), {}, kind=wire.CALL)]
        assert router.ongoing() == 0

    asyncio.run(main())


def test_router_queues_then_refuses_past_max_queued_requests() -> None:
    async def main() -> None:
        _, path = await _serve(Model())
        router = Router("app", "Model", max_ongoing_requests=2, max_queued_requests=1)
        router.update([ReplicaInfo("r0", path)])
        running = [asyncio.ensure_future(router.call("slow", (i,), {})) for i in range(2)]
        queued = asyncio.ensure_future(router.call("slow", (2,), {}))
        await asyncio.sleep(0.05)
        assert router.queued() == 1
        with pytest.raises(BackPressureError, match="max_queued_requests=1"):
            await router.call("slow", (3,), {})
        # a second router (another caller) may still reach the replica and open the gate
        other = Router("app", "Model")
        other.update([ReplicaInfo("r0", path)])
        await other.call("open", (), {})
        assert sorted(await asyncio.gather(*running, queued)) == [0, 1, 2]

    asyncio.run(main())


async def _one_slot_held() -> tuple[ReplicaServer, str, asyncio.Future, Router]:
    """A replica with one slot, held by another caller's request (the replica has it),
    and a router with no queue (``max_queued_requests=0``)."""
    server, path = await _serve(Model())
    server.max_ongoing_requests = 1
    first, second = Router("app", "Model"), Router("app", "Model", max_queued_requests=0)
    for router in (first, second):
        router.update([ReplicaInfo("r0", path)])
    held = asyncio.ensure_future(first.call("slow", (1,), {}))
    while server.user_ongoing == 0:
        await asyncio.sleep(0)
    return server, path, held, second


def test_a_full_replica_refuses_other_callers_requests() -> None:
    async def main() -> None:
        server, path, held, second = await _one_slot_held()
        with pytest.raises(BackPressureError):
            await second.call("__call__", (2,), {})
        waiting = Router("app", "Model")  # an unbounded queue: retried until the replica has room
        waiting.update([ReplicaInfo("r0", path)])
        later = asyncio.ensure_future(waiting.call("__call__", (3,), {}))
        await asyncio.sleep(0.05)
        assert not later.done()
        server.obj.open()
        assert await held == 1 and await later == 6

    asyncio.run(main())


def test_a_refusal_holds_for_that_request_not_the_callers_next_one() -> None:
    """A replica that refused a request counts as full (a short back-off) for that request
    only: the same caller's next request, sent as soon as the replica has room, is served,
    not refused on the back-off."""
    async def main() -> None:
        server, _, held, second = await _one_slot_held()
        with pytest.raises(BackPressureError):
            await second.call("__call__", (2,), {})
        server.obj.open()
        assert await held == 1
        assert await second.call("__call__", (4,), {}) == 8  # within the refusal's back-off

    asyncio.run(main())


def test_a_dead_replica_fails_its_requests_and_new_ones_go_elsewhere() -> None:
    async def main() -> None:
        dying, dying_path = await _serve(Model(), "r0")
        _, live_path = await _serve(Model(), "r1")
        router = Router("app", "Model", max_ongoing_requests=100, seed=1)
        router.update([ReplicaInfo("r0", dying_path), ReplicaInfo("r1", live_path)])
        inflight = [asyncio.ensure_future(router.call("slow", (i,), {})) for i in range(20)]
        await asyncio.sleep(0.05)
        assert dying.ongoing > 0
        dying._server.close()  # the replica "dies": it stops listening and its connections drop
        for writer in list(dying._connections):
            writer.transport.abort()
        await asyncio.sleep(0.05)
        assert router.replica_ids() == ["r1"]
        assert [await router.call("__call__", (i,), {}) for i in range(5)] == [0, 2, 4, 6, 8]
        other = Router("app", "Model")
        other.update([ReplicaInfo("r1", live_path)])
        await other.call("open", (), {})
        results = await asyncio.gather(*inflight, return_exceptions=True)
        died = [r for r in results if isinstance(r, ActorDiedError)]
        assert died and all("replica r0 of deployment 'Model' died" in str(e) for e in died)
        assert all(isinstance(r, int) for r in results if not isinstance(r, ActorDiedError))

    asyncio.run(main())


# ---------------------------------------------------------------- HTTP in the replica

def _scope(method: str = "GET", path: str = "/", query: bytes = b"", root_path: str = "") -> dict:
    return {"type": "http", "method": method, "path": path, "query_string": query, "root_path": root_path,
            "headers": [(b"content-type", b"application/json"), (b"x-token", b"t")], "http_version": "1.1",
            "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}


def _run(obj: Any, scope: dict, body: bytes = b"") -> list[tuple[list, bool]]:
    out: list[tuple[list, bool]] = []

    async def emit(messages: list, final: bool) -> None:
        out.append((messages, final))

    asyncio.run(run_http(obj, scope, body, emit))
    return out


def test_request_and_plain_return_values() -> None:
    from starlette.responses import PlainTextResponse

    class Api:
        async def __call__(self, request: Any) -> Any:
            kind = request.query_params.get("kind")
            if kind == "text":
                return "hi"
            if kind == "bytes":
                return b"\x00\x01"
            if kind == "response":
                return PlainTextResponse("teapot", status_code=418)
            return {"method": request.method, "json": await request.json(), "token": request.headers["x-token"],
                    "body": (await request.body()).decode()}

    [(messages, final)] = _run(Api(), _scope("PUT"), b'{"a": 1}')
    assert final and messages[0]["status"] == 200
    assert json.loads(messages[1]["body"]) == {"method": "PUT", "json": {"a": 1}, "token": "t", "body": '{"a": 1}'}
    [(messages, _)] = _run(Api(), _scope(query=b"kind=text"))
    assert messages[1]["body"] == b"hi" and (b"content-type", b"text/plain; charset=utf-8") in messages[0]["headers"]
    [(messages, _)] = _run(Api(), _scope(query=b"kind=bytes"))
    assert messages[1]["body"] == b"\x00\x01"
    [(messages, _)] = _run(Api(), _scope(query=b"kind=response"))
    assert messages[0]["status"] == 418 and messages[1]["body"] == b"teapot"


def test_streaming_response_is_sent_as_produced() -> None:
    from starlette.responses import StreamingResponse

    class Streamer:
        def __call__(self, request: Any) -> Any:
            def gen() -> Any:
                for i in range(3):
                    yield f"chunk{i}\n"
            return StreamingResponse(gen(), media_type="text/plain")

    class BareGenerator:
        async def __call__(self, request: Any) -> Any:
            for i in range(2):
                yield f"g{i}"

    out = _run(Streamer(), _scope())
    assert [final for _, final in out] == [False, False, False, True]  # each chunk left at once
    bodies = [m["body"] for messages, _ in out for m in messages if m["type"] == "http.response.body"]
    assert b"".join(bodies) == b"chunk0\nchunk1\nchunk2\n"
    out = _run(BareGenerator(), _scope())
    assert b"".join(m.get("body", b"") for messages, _ in out for m in messages
                    if m["type"] == "http.response.body") == b"g0g1"


def test_exceptions_before_the_response_are_raised_to_the_proxy() -> None:
    class Broken:
        def __call__(self, request: Any) -> Any:
            raise ValueError("no good")

    class Unencodable:
        def __call__(self, request: Any) -> Any:
            return object()  # (a set is a JSON list, through FastAPI's encoder, as in Ray)

    with pytest.raises(ValueError, match="no good"):
        _run(Broken(), _scope())
    with pytest.raises(TypeError, match="JSON cannot encode"):
        _run(Unencodable(), _scope())


from pydantic import BaseModel  # noqa: E402 - FastAPI resolves the annotations in this module's globals


class Item(BaseModel):
    name: str
    price: float


def token(x_token: str = "none") -> str:
    return x_token


def test_fastapi_ingress_binds_methods_params_models_and_dependencies() -> None:
    from fastapi import Depends, FastAPI

    app = FastAPI()

    @ingress(app)
    class Api:
        def __init__(self) -> None:
            self.tax = 2.0

        @app.get("/items/{item_id}")
        def get_item(self, item_id: int, q: str = "") -> dict:
            return {"item_id": item_id, "q": q}

        @app.post("/items")
        async def create(self, item: Item, tok: str = Depends(token)) -> dict:
            return {"name": item.name, "total": item.price * self.tax, "token": tok}

    obj = Api()
    _set_replica_context(ReplicaContext(ReplicaID("r", DeploymentID("Api", "app")), obj))
    try:
        [(messages, _)] = _run(obj, _scope("GET", "/api/items/7", b"q=z", root_path="/api"))
        assert messages[0]["status"] == 200 and json.loads(messages[1]["body"]) == {"item_id": 7, "q": "z"}
        [(messages, _)] = _run(obj, _scope("POST", "/api/items", b"x_token=abc", root_path="/api"),
                               b'{"name": "pen", "price": 1.5}')
        assert json.loads(messages[1]["body"]) == {"name": "pen", "total": 3.0, "token": "abc"}
        [(messages, _)] = _run(obj, _scope("GET", "/api/items/notanint", root_path="/api"))
        assert messages[0]["status"] == 422
        [(messages, _)] = _run(obj, _scope("POST", "/api/items", root_path="/api"), b'{"name": "pen"}')
        assert messages[0]["status"] == 422
    finally:
        _set_replica_context(None)
