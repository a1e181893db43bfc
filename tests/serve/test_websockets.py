"""WebSockets through the serve proxy, as Ray Serve serves them (``@serve.ingress(app)``
with ``@app.websocket`` routes): a real Uvicorn proxy, replica actors and a real
``websockets`` client. Echo of text and bytes, a close from the server with its code,
a client that leaves reaching the handler (as it waits to receive, and as it sends),
connections side by side, routing by ``route_prefix``, refusals (no route, a
deployment without ``@serve.ingress``, an exception), and the duplex channel itself
without processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import streamdata as sd
from _serve_util import async_wait_until, wait_until
from streamdata import serve
from streamdata.serve import wire
from streamdata.serve.channel import ReplicaConnection
from streamdata.serve.duplex import RequestInbox
from streamdata.serve.replica import ReplicaServer
from streamdata.serve.websocket_relay import WebSocketReceive, close_reason

NO_CPU = {"num_cpus": 0}
TIMEOUT = 30


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
def ws_url() -> str:
    return serve.http_address().replace("http://", "ws://", 1)


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


echo_app = FastAPI()


@serve.deployment(ray_actor_options=NO_CPU)
@serve.ingress(echo_app)
class Echo:
    """Echoes text and bytes; ``close <code>`` closes from the server; counts what ended how."""

    def __init__(self) -> None:
        self.disconnects: list[int] = []
        self.finished = 0

    @echo_app.websocket("/")
    async def echo(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(message.get("code", 1000))
                text = message.get("text")
                if text is None:
                    await ws.send_bytes(message["bytes"])
                elif text.startswith("close "):
                    await ws.close(code=int(text.split()[1]), reason="server says bye")
                    return
                else:
                    await ws.send_text(text)
        except WebSocketDisconnect as exc:
            self.disconnects.append(exc.code)
        finally:
            self.finished += 1

    @echo_app.websocket("/ticks")
    async def ticks(self, ws: WebSocket) -> None:
        """Only sends (never receives): a client that left makes its next send fail."""
        await ws.accept()
        n = 0
        try:
            while True:
                await ws.send_text(str(n))
                n += 1
                await asyncio.sleep(0.005)
        except WebSocketDisconnect as exc:
            self.disconnects.append(exc.code)
        finally:
            self.finished += 1

    @echo_app.websocket("/who/{name}")
    async def who(self, ws: WebSocket, name: str, excited: bool = False) -> None:
        subprotocols = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol=subprotocols[0] if subprotocols else None)
        await ws.send_json({"name": name + ("!" if excited else ""), "token": ws.headers.get("x-token"),
                            "root_path": ws.scope["root_path"]})
        await ws.close()
        self.finished += 1

    @echo_app.websocket("/fails")
    async def fails(self, ws: WebSocket) -> None:
        if ws.query_params.get("when") == "before":
            raise ValueError("refused before the handshake")
        await ws.accept()
        await ws.receive_text()
        raise ValueError("broke after the handshake")

    @echo_app.websocket("/dies")
    async def dies(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        os._exit(1)  # the replica's process dies with the connection open

    @echo_app.get("/plain")
    def plain(self) -> dict:
        return {"http": "still works"}

    def stats(self) -> dict:
        return {"disconnects": list(self.disconnects), "finished": self.finished}


@serve.deployment(ray_actor_options=NO_CPU)
class PlainCall:
    def __call__(self, request: Any) -> str:
        return "no websockets here"


def _stats(name: str = "echo") -> dict:
    return serve.get_app_handle(name).stats.remote().result(timeout_s=TIMEOUT)


def _wait_finished(count: int, name: str = "echo") -> dict:
    wait_until(lambda: _stats(name)["finished"] >= count, TIMEOUT, lambda: f"{count} handler(s) ending: {_stats(name)}")
    return _stats(name)


def test_echo_text_and_bytes(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with connect(f"{ws_url}/echo/", open_timeout=TIMEOUT) as ws:
        ws.send("Eureka!")
        assert ws.recv(timeout=TIMEOUT) == "Eureka!"
        ws.send(b"\x00\x01binary\xff")
        assert ws.recv(timeout=TIMEOUT) == b"\x00\x01binary\xff"
        big = os.urandom(768 * 1024)  # under the client's 1 MiB limit, over the replica reader's chunks
        ws.send(big)
        assert ws.recv(timeout=TIMEOUT) == big
    stats = _wait_finished(1)
    assert stats["disconnects"] == [1000]  # the client's close reached the handler


def test_the_server_closes_with_a_code(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with connect(f"{ws_url}/echo/", open_timeout=TIMEOUT) as ws:
        ws.send("first")
        assert ws.recv(timeout=TIMEOUT) == "first"
        ws.send("close 4001")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=TIMEOUT)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "server says bye")
    assert _wait_finished(1)["disconnects"] == []


def test_a_client_that_leaves_reaches_the_waiting_handler(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with connect(f"{ws_url}/echo/", open_timeout=TIMEOUT) as ws:
        ws.send("hello")
        assert ws.recv(timeout=TIMEOUT) == "hello"
        ws.close(code=4321, reason="leaving")
    assert _wait_finished(1)["disconnects"] == [4321]
    # a client that drops its TCP connection without a close frame reaches it too
    with connect(f"{ws_url}/echo/", open_timeout=TIMEOUT) as ws:
        ws.send("hello")
        assert ws.recv(timeout=TIMEOUT) == "hello"
        ws.socket.shutdown(socket.SHUT_RDWR)
        assert _wait_finished(2)["disconnects"] == [4321, 1005]


def test_a_client_that_leaves_fails_the_sending_handler(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with connect(f"{ws_url}/echo/ticks", open_timeout=TIMEOUT) as ws:
        assert [ws.recv(timeout=TIMEOUT) for _ in range(3)] == ["0", "1", "2"]
    stats = _wait_finished(1)
    assert stats["disconnects"] == [1006]  # its send failed: WebSocketDisconnect, as under Uvicorn


def test_two_connections_side_by_side(ws_url: str) -> None:
    serve.run(Echo.bind(), name="pair", route_prefix="/pair")
    with connect(f"{ws_url}/pair/", open_timeout=TIMEOUT) as a, connect(f"{ws_url}/pair/", open_timeout=TIMEOUT) as b:
        for i in range(20):
            a.send(f"a{i}")
            b.send(f"b{i}".encode())
        assert [a.recv(timeout=TIMEOUT) for _ in range(20)] == [f"a{i}" for i in range(20)]
        assert [b.recv(timeout=TIMEOUT) for _ in range(20)] == [f"b{i}".encode() for i in range(20)]
        b.close()
        a.send("still here")
        assert a.recv(timeout=TIMEOUT) == "still here"
    assert sorted(_wait_finished(2, "pair")["disconnects"]) == [1000, 1000]
    # the proxy counts them (method "WS", the close code as the status)
    line = 'serve_num_http_requests_total{application="pair",method="WS",route="/pair",status_code="1000"} 2.0'
    wait_until(lambda: line in httpx.get(f"{serve.http_address()}/metrics", timeout=TIMEOUT).text, TIMEOUT, line)


def test_routes_by_prefix_with_path_query_headers_and_subprotocol(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    serve.run(Echo.bind(), name="other", route_prefix="/other")
    with connect(f"{ws_url}/other/who/ada?excited=true", additional_headers={"X-Token": "t0k"},
                 subprotocols=["chat.v1"], open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "chat.v1"
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"name": "ada!", "token": "t0k", "root_path": "/other"}
    assert _wait_finished(1, "other")["finished"] == 1
    assert _stats("echo")["finished"] == 0
    assert httpx.get(f"{serve.http_address()}/echo/plain", timeout=TIMEOUT).json() == {"http": "still works"}


def test_a_route_that_does_not_exist_is_refused_with_404(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with pytest.raises(InvalidStatus) as info:
        connect(f"{ws_url}/nowhere", open_timeout=TIMEOUT)
    assert info.value.response.status_code == 404
    assert json.loads(info.value.response.body)["error"] == "NotFound"
    # a path the application's FastAPI app has no websocket route for: refused by the app (403)
    with pytest.raises(InvalidStatus) as info:
        connect(f"{ws_url}/echo/missing", open_timeout=TIMEOUT)
    assert info.value.response.status_code == 403


def test_a_deployment_without_ingress_refuses_websockets(ws_url: str) -> None:
    serve.run(PlainCall.bind(), name="plain", route_prefix="/plain")
    with pytest.raises(InvalidStatus) as info:
        connect(f"{ws_url}/plain", open_timeout=TIMEOUT)
    assert info.value.response.status_code == 500
    body = json.loads(info.value.response.body)
    assert body["error"] == "TypeError" and "@serve.ingress" in body["message"], body
    # the deployment still answers HTTP
    assert httpx.get(f"{serve.http_address()}/plain", timeout=TIMEOUT).text == "no websockets here"


def test_a_handler_that_raises(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with pytest.raises(InvalidStatus) as info:
        connect(f"{ws_url}/echo/fails?when=before", open_timeout=TIMEOUT)
    assert info.value.response.status_code == 500
    assert json.loads(info.value.response.body) == {"error": "ValueError", "message": "refused before the handshake"}
    with connect(f"{ws_url}/echo/fails", open_timeout=TIMEOUT) as ws:
        ws.send("go")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "ValueError: broke after the handshake")


def test_a_replica_that_dies_closes_the_connection_with_1011(ws_url: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    with connect(f"{ws_url}/echo/dies", open_timeout=TIMEOUT) as ws:
        ws.send("go")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert closed.value.rcvd.reason.startswith("ActorDiedError: replica"), closed.value.rcvd.reason


# ---- the duplex channel, in one process (no runtime, no proxy)

class _RawEcho:
    """A raw ASGI app: accepts, echoes what it receives once ``gate`` is open, records how it ended."""

    def __init__(self) -> None:
        self.ended: asyncio.Queue = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await self.gate.wait()
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.ended.put_nowait(message["code"])
                return
            await send({"type": "websocket.send", "text": message.get("text")})




def _with_raw_echo(test: Any, window: int = 16) -> None:
    """Run ``test(app, server, conn)``: a replica of a :class:`_RawEcho` in this process (no runtime,
    no proxy) and a connection to it; then check that it left nothing behind."""
    async def main() -> None:
        app = _RawEcho()
        deployment = type("RawEchoDeployment", (), {"__serve_asgi_app__": app})
        server = ReplicaServer(deployment(), "app", "RawEcho", "r0")
        server.request_stream_window = window
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            path = os.path.join(tmp, "r.sock")
            await server.listen(path)
            conn = ReplicaConnection("r0", path, "RawEcho")
            try:
                await test(app, server, conn)
                await async_wait_until(lambda: server.ongoing == 0, "the replica's requests ending", timeout=TIMEOUT)
                assert not any(server._inboxes.values())  # nothing left behind
            finally:
                conn.close()
                server._server.close()

    asyncio.run(main())


def _connect(conn: ReplicaConnection, feed: Any) -> Any:
    return conn.stream("__call__", ({"type": "websocket", "path": "/"},), kind=wire.WEBSOCKET, feed=feed)


def test_the_duplex_channel_feeds_the_replica_and_tells_it_when_the_caller_leaves() -> None:
    async def test(app: _RawEcho, server: ReplicaServer, conn: ReplicaConnection) -> None:
        feed: asyncio.Queue = asyncio.Queue()

        async def client_messages() -> Any:
            while True:
                yield await feed.get()

        stream = _connect(conn, client_messages())
        assert await anext(stream) == [{"type": "websocket.accept"}]
        feed.put_nowait({"type": "websocket.receive", "text": "ping"})
        assert await anext(stream) == [{"type": "websocket.send", "text": "ping"}]
        await stream.aclose()  # the caller leaves mid-connection: the app sees a disconnect
        assert await asyncio.wait_for(app.ended.get(), TIMEOUT) == 1006

    _with_raw_echo(test)


def test_the_duplex_channel_sends_only_what_the_replica_granted() -> None:
    """Flow control: a handler that does not receive holds at most ``window`` of its client's
    messages in the replica; the rest wait at the proxy's end until it reads them."""
    async def test(app: _RawEcho, server: ReplicaServer, conn: ReplicaConnection) -> None:
        app.gate.clear()
        pulled = 0

        async def client_messages() -> Any:
            nonlocal pulled
            for i in range(10):
                pulled += 1
                yield {"type": "websocket.receive", "text": str(i)}
            await asyncio.Event().wait()  # the client stays

        stream = _connect(conn, client_messages())
        assert await anext(stream) == [{"type": "websocket.accept"}]
        await async_wait_until(lambda: pulled == 3, "the window's messages", timeout=TIMEOUT)
        await conn.call("stats", kind=wire.CONTROL)  # a round trip: what the replica sent before is read
        (inbox,) = server._inboxes[next(iter(server._inboxes))].values()
        assert (pulled, len(inbox)) == (3, 3)
        app.gate.set()
        assert [(await anext(stream))[0]["text"] for _ in range(10)] == [str(i) for i in range(10)]
        await stream.aclose()
        assert await asyncio.wait_for(app.ended.get(), TIMEOUT) == 1006

    _with_raw_echo(test, window=3)


def test_receive_and_close_reason() -> None:
    inbox = RequestInbox()
    receive = WebSocketReceive(inbox)
    inbox.feed(wire.Feed(1, {"type": "websocket.disconnect", "code": 1001}))
    inbox.feed(wire.Feed(1, None, wire.DONE))  # the proxy's stream ends after the client's disconnect
    inbox.feed(wire.Feed(1, {"type": "websocket.receive", "text": "late"}))  # after the end: dropped
    assert receive.disconnected and len(inbox) == 1

    async def drain() -> list[dict]:
        return [await receive() for _ in range(3)]

    assert [m["type"] for m in asyncio.run(drain())] == ["websocket.connect", "websocket.disconnect",
                                                        "websocket.disconnect"]
    assert len(close_reason(RuntimeError("x" * 500)).encode()) == 123
    assert close_reason({"error": "KeyError", "message": "'k'"}) == "KeyError: 'k'"
