"""Request cancellation, end to end, as Ray Serve documents it: ``response.cancel()`` on a
queued request (it never runs), on a running async method (its ``except
asyncio.CancelledError`` runs, the caller gets ``RequestCancelledError``), on a sync method
(it runs to its end), on a streaming response, after the answer (nothing changes); a
cancelled request cancels the child requests it made; an HTTP client that disconnects
cancels its handler (through the real proxy, Uvicorn, and a real HTTP client). The same in
local testing mode. Deployments report what they saw to a ``Signals`` actor; the tests wait
on those reports (``wait_until``), never on the clock."""

from __future__ import annotations

import asyncio
import gc
import http.client
import textwrap
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

import streamdata as sd
from streamdata import serve
from streamdata.serve.client import get_client
from streamdata.serve.exceptions import RequestCancelledError

from _serve_util import async_wait_until, grpc_stubs, wait_until

QUICK_STOP = {"ray_actor_options": {"num_cpus": 0}, "graceful_shutdown_timeout_s": 2.0}

PROTO = textwrap.dedent("""
    syntax = "proto3";
    package sdcancel;
    message Ask { string name = 1; }
    message Answer { string text = 1; }
    service Waiter {
      rpc Wait (Ask) returns (Answer);
      rpc Waits (Ask) returns (stream Answer);
    }
""")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    yield from grpc_stubs(tmp_path_factory.mktemp("grpc_cancel_stubs"), "sdcancel", PROTO)


@pytest.fixture(scope="module", autouse=True)
def runtime(stubs: tuple[Any, Any]) -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0}, grpc_options=serve.gRPCOptions(
        port=0, grpc_servicer_functions=["sdcancel_pb2_grpc.add_WaiterServicer_to_server"]))
    yield
    serve.shutdown()
    gc.collect()
    sd.shutdown()


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


@sd.remote(num_cpus=0)
class Signals:
    """What the deployments saw, in order; a gate they may wait on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.opened = asyncio.Event()

    async def add(self, what: str) -> None:
        self.seen.append(what)

    async def get(self) -> list[str]:
        return list(self.seen)

    async def open(self) -> None:
        self.opened.set()

    async def wait(self) -> None:
        await self.opened.wait()


def seen(signals: Any) -> list[str]:
    return sd.get(signals.get.remote(), timeout=30)


def wait_seen(signals: Any, *events: str) -> None:
    wait_until(lambda: set(events) <= set(seen(signals)), timeout=60,
               what=lambda: f"{events} among {seen(signals)}")


@serve.deployment(max_ongoing_requests=1, **QUICK_STOP)
class Gated:
    """One request at a time; a request tagged "hold" waits for the gate."""

    def __init__(self, signals: Any) -> None:
        self.signals = signals

    async def __call__(self, tag: str) -> str:
        await self.signals.add.remote(f"start:{tag}")
        if tag == "hold":
            await self.signals.wait.remote()
        return tag


@serve.deployment(**QUICK_STOP)
class Sleeper:
    """Methods that wait until they are cancelled, and say so."""

    def __init__(self, signals: Any) -> None:
        self.signals = signals

    async def __call__(self, tag: str = "call") -> str:
        await self.signals.add.remote(f"started:{tag}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.signals.add.remote(f"cancelled:{tag}")
            raise
        return "never"

    def blocking(self) -> str:
        sd.get(self.signals.add.remote("started:sync"))
        sd.get(self.signals.wait.remote())  # a sync method blocks; nothing interrupts it
        sd.get(self.signals.add.remote("done:sync"))
        return "sync"

    async def stream(self) -> Any:
        try:
            for i in range(2):
                yield i
            await self.signals.add.remote("started:stream")
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.signals.add.remote("cancelled:stream")
            raise

    def echo(self, x: Any) -> Any:
        return x

    def count(self, n: int) -> Any:
        yield from range(n)


@serve.deployment(**QUICK_STOP)
class Parent:
    """Calls Sleeper: awaits one child request, leaves another running."""

    def __init__(self, child: Any, signals: Any) -> None:
        self.child = child
        self.signals = signals

    async def __call__(self) -> str:
        awaited = self.child.remote("awaited")
        self.detached = self.child.remote("detached")
        try:
            return await awaited
        except asyncio.CancelledError:
            await self.signals.add.remote("cancelled:parent")
            raise

    async def stream_child(self) -> str:
        gen = self.child.options(stream=True).stream.remote()
        async for _ in gen:
            pass
        return "done"

    async def cancel_own_child(self) -> str:
        child = self.child.remote("own")
        child.cancel()
        try:
            await child
        except RequestCancelledError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "not cancelled"


def _queued(app: str, deployment: str) -> int:
    client = get_client(create=False)
    router = client.routers.get((app, deployment)) if client is not None else None
    return router.queued() if router is not None else 0


def test_a_queued_request_cancelled_never_runs() -> None:
    signals = Signals.remote()
    handle = serve.run(Gated.bind(signals), name="queued", route_prefix=None)
    held = handle.remote("hold")
    wait_seen(signals, "start:hold")
    waiting = handle.remote("queued")
    wait_until(lambda: _queued("queued", "Gated") == 1, what="the request queued in the router")
    assert waiting.cancel() is True and waiting.cancelled()
    with pytest.raises(RequestCancelledError, match=f"Request {waiting.request_id} was cancelled"):
        waiting.result(timeout_s=60)
    sd.get(signals.open.remote())
    assert held.result(timeout_s=60) == "hold"
    assert handle.remote("after").result(timeout_s=60) == "after"
    assert seen(signals) == ["start:hold", "start:after"]


def test_a_running_async_request_is_cancelled_in_the_replica() -> None:
    signals = Signals.remote()
    handle = serve.run(Sleeper.options(max_ongoing_requests=1).bind(signals), name="running", route_prefix=None)
    response = handle.remote("one")
    wait_seen(signals, "started:one")
    assert response.cancel() is True
    with pytest.raises(RequestCancelledError) as caught:
        response.result(timeout_s=60)
    assert isinstance(caught.value, sd.exceptions.TaskCancelledError)
    wait_seen(signals, "cancelled:one")
    # the replica's one slot is free again, and awaiting a cancelled response raises the same error
    assert handle.echo.remote(5).result(timeout_s=60) == 5

    async def main() -> None:
        again = handle.remote("two")
        await async_wait_until(lambda: "started:two" in seen(signals), "the second request running", 60)
        again.cancel()
        with pytest.raises(RequestCancelledError):
            await again

    asyncio.run(main())
    wait_seen(signals, "cancelled:two")


def test_a_sync_method_runs_to_its_end_and_its_answer_is_dropped() -> None:
    signals = Signals.remote()
    handle = serve.run(Sleeper.bind(signals), name="sync", route_prefix=None)
    response = handle.blocking.remote()
    wait_seen(signals, "started:sync")
    response.cancel()
    with pytest.raises(RequestCancelledError):
        response.result(timeout_s=60)
    sd.get(signals.open.remote())
    wait_seen(signals, "done:sync")
    assert handle.echo.remote(1).result(timeout_s=60) == 1


def test_cancelling_a_request_cancels_its_child_requests() -> None:
    signals = Signals.remote()
    child = Sleeper.options(max_ongoing_requests=4).bind(signals)
    handle = serve.run(Parent.bind(child, signals), name="tree", route_prefix=None)
    response = handle.remote()
    wait_seen(signals, "started:awaited", "started:detached")
    response.cancel()
    with pytest.raises(RequestCancelledError):
        response.result(timeout_s=60)
    wait_seen(signals, "cancelled:parent", "cancelled:awaited", "cancelled:detached")

    streaming = handle.stream_child.remote()  # a child stream, iterated by the parent
    wait_seen(signals, "started:stream")
    streaming.cancel()
    wait_seen(signals, "cancelled:stream")
    # a deployment cancels its own child: awaiting it raises Ray's error
    assert handle.cancel_own_child.remote().result(timeout_s=60).startswith("RequestCancelledError: Request ")


def test_cancelling_a_streaming_response() -> None:
    signals = Signals.remote()
    handle = serve.run(Sleeper.bind(signals), name="streams", route_prefix=None)
    gen = handle.options(stream=True).stream.remote()
    assert next(gen) == 0
    gen.cancel()
    assert gen.cancelled()
    with pytest.raises(RequestCancelledError):
        next(gen)
    wait_seen(signals, "cancelled:stream")

    async def main() -> None:  # cancelled while the caller waits for the next item
        agen = handle.options(stream=True).stream.remote()
        assert [await agen.__anext__(), await agen.__anext__()] == [0, 1]
        pending = asyncio.ensure_future(agen.__anext__())
        await async_wait_until(lambda: seen(signals).count("started:stream") == 2, "the stream waiting", 60)
        agen.cancel()
        with pytest.raises(RequestCancelledError):
            await pending
        with pytest.raises(RequestCancelledError):
            await agen.__anext__()

    asyncio.run(main())
    wait_until(lambda: seen(signals).count("cancelled:stream") == 2, what="the second stream cancelled")


def test_cancel_after_the_answer_changes_nothing() -> None:
    signals = Signals.remote()
    handle = serve.run(Sleeper.bind(signals), name="after", route_prefix=None)
    response = handle.echo.remote(7)
    assert response.result(timeout_s=60) == 7
    assert response.cancel() is False
    assert response.result(timeout_s=60) == 7

    async def main() -> Any:
        return await response

    assert asyncio.run(main()) == 7
    gen = handle.options(stream=True).count.remote(3)
    assert list(gen) == [0, 1, 2]
    gen.cancel()
    assert list(gen) == []


@serve.deployment(**QUICK_STOP)
class Disconnects:
    """An HTTP handler that waits until its client leaves, and a streamed body that does too."""

    def __init__(self, signals: Any) -> None:
        self.signals = signals

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import StreamingResponse

        if request.query_params.get("stream"):
            return StreamingResponse(self._chunks())
        await self.signals.add.remote("started:http")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.signals.add.remote("cancelled:http")
            raise

    async def _chunks(self) -> Any:
        try:
            yield b"first\n"
            await self.signals.add.remote("started:body")
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.signals.add.remote("cancelled:body")
            raise


@serve.deployment(**QUICK_STOP)
class HttpParent:
    """An HTTP handler that starts a child request and waits."""

    def __init__(self, child: Any) -> None:
        self.child = child

    async def __call__(self) -> None:
        self.detached = self.child.remote("http-child")
        await asyncio.Event().wait()


@serve.deployment(**QUICK_STOP)
async def startled() -> None:
    """Ray's docs example (``disconnects.py``): a function deployment that takes no request."""
    signals = sd.get_actor("startled-signals")
    await signals.add.remote("started:fn")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await signals.add.remote("cancelled:fn")  # not raised again: the request ends anyway


def _connection() -> http.client.HTTPConnection:
    address = urllib.parse.urlparse(serve.http_address())
    return http.client.HTTPConnection(address.hostname, address.port, timeout=60)


def test_an_http_client_that_disconnects_cancels_its_handler() -> None:
    signals = Signals.remote()
    serve.run(Disconnects.bind(signals), name="http", route_prefix="/disconnects")
    conn = _connection()
    conn.request("GET", "/disconnects")
    wait_seen(signals, "started:http")
    conn.close()  # before any response
    wait_seen(signals, "cancelled:http")

    conn = _connection()
    conn.request("GET", "/disconnects?stream=1")
    response = conn.getresponse()
    assert response.status == 200 and response.readline() == b"first\n"
    wait_seen(signals, "started:body")
    conn.close()  # in the middle of a streamed body
    wait_seen(signals, "cancelled:body")

    serve.run(HttpParent.bind(Sleeper.bind(signals)), name="httpparent", route_prefix="/parent")
    conn = _connection()
    conn.request("GET", "/parent")
    wait_seen(signals, "started:http-child")
    conn.close()  # the handler is cancelled, and so is the request it made
    wait_seen(signals, "cancelled:http-child")


def test_an_http_client_that_times_out_cancels_a_function_deployment() -> None:
    signals = Signals.options(name="startled-signals").remote()
    serve.run(startled.bind(), name="startled", route_prefix="/startled")
    conn = _connection()
    conn.request("GET", "/startled")
    wait_seen(signals, "started:fn")
    conn.close()
    wait_seen(signals, "cancelled:fn")
    sd.kill(signals)


def _waiter(pb2: Any) -> Any:
    @serve.deployment(**QUICK_STOP)
    class Waiter:
        def __init__(self, signals: Any) -> None:
            self.signals = signals

        async def Wait(self, ask: Any) -> Any:  # noqa: N802 - the RPC's name
            await self.signals.add.remote(f"started:{ask.name}")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                await self.signals.add.remote(f"cancelled:{ask.name}")
                raise
            return pb2.Answer(text="never")

        async def Waits(self, ask: Any) -> Any:  # noqa: N802
            yield pb2.Answer(text="first")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                await self.signals.add.remote(f"cancelled:{ask.name}")
                raise

    return Waiter


def test_a_grpc_client_that_cancels_cancels_the_method(stubs: tuple[Any, Any]) -> None:
    import grpc

    pb2, pb2_grpc = stubs
    signals = Signals.remote()
    serve.run(_waiter(pb2).bind(signals), name="grpc", route_prefix=None)
    port = sd.get(sd.get_actor("SERVE_PROXY_ACTOR").ready.remote())["grpc_port"]
    metadata = (("application", "grpc"),)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb2_grpc.WaiterStub(channel)
        future = stub.Wait.future(pb2.Ask(name="unary"), metadata=metadata, timeout=60)
        wait_seen(signals, "started:unary")
        future.cancel()
        wait_seen(signals, "cancelled:unary")
        future = stub.Wait.future(pb2.Ask(name="deadline"), metadata=metadata, timeout=3)  # the client's deadline
        wait_seen(signals, "started:deadline")
        with pytest.raises(grpc.RpcError) as err:
            future.result()
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_seen(signals, "cancelled:deadline")
        answers = stub.Waits(pb2.Ask(name="stream"), metadata=metadata, timeout=60)
        assert next(answers).text == "first"
        answers.cancel()
        wait_seen(signals, "cancelled:stream")


# ---- local testing mode: the same semantics in this process

class _Seen:
    """What local deployments saw (this process), with an event per entry."""

    def __init__(self) -> None:
        self.events: dict[str, threading.Event] = {}

    def add(self, what: str) -> None:
        self.events.setdefault(what, threading.Event()).set()

    def wait(self, what: str) -> None:
        assert self.events.setdefault(what, threading.Event()).wait(60), f"{what} not seen"


LOCAL = _Seen()


@serve.deployment
class LocalChild:
    async def __call__(self, tag: str) -> None:
        LOCAL.add(f"started:{tag}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            LOCAL.add(f"cancelled:{tag}")
            raise

    async def stream(self) -> Any:
        try:
            yield 0
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            LOCAL.add("cancelled:local-stream")
            raise


@serve.deployment
class LocalParent:
    def __init__(self, child: Any) -> None:
        self.child = child

    async def __call__(self) -> None:
        self.detached = self.child.remote("local-detached")
        await self.child.remote("local-awaited")


def test_local_testing_mode_cancels_the_same_way() -> None:
    handle = serve.run(LocalParent.bind(LocalChild.bind()), _local_testing_mode=True)
    response = handle.remote()
    LOCAL.wait("started:local-awaited")
    LOCAL.wait("started:local-detached")
    assert response.cancel() is True
    with pytest.raises(RequestCancelledError):
        response.result(timeout_s=60)
    LOCAL.wait("cancelled:local-awaited")
    LOCAL.wait("cancelled:local-detached")

    child = serve.run(LocalChild.bind(), _local_testing_mode=True)
    gen = child.options(stream=True).stream.remote()
    assert next(gen) == 0
    gen.cancel()
    with pytest.raises(RequestCancelledError):
        next(gen)
    LOCAL.wait("cancelled:local-stream")
