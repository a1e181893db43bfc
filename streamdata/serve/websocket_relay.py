"""WebSockets through the proxy: a ``websocket`` ASGI connection relayed to one
replica of the application's ingress deployment for its whole life, as Ray Serve
serves them (``@serve.ingress(app)`` with ``@app.websocket(...)`` routes).

The proxy (:func:`relay_websocket`) opens one duplex request (kind
``wire.WEBSOCKET``, :mod:`.duplex`) on the replica channel: the replica's ASGI ``send``
messages (``websocket.accept``, ``websocket.send``, ``websocket.close``, a denial
response) come back as stream chunks and go on to Uvicorn as they come; the
client's ``receive`` messages (``websocket.receive``, ``websocket.disconnect``) are
its request stream. On the replica, :func:`run_websocket` runs the deployment's
ASGI app with a :class:`WebSocketReceive` over that stream as its ``receive``.

A client that leaves reaches the handler as ``websocket.disconnect`` (FastAPI's
``WebSocketDisconnect``) and its next send fails the same way; so does a proxy
that stops relaying or whose connection to the replica drops. An exception before
the handshake → an HTTP 500 denial with ``{"error": type, "message": text}``; after
it → close code 1011 with ``type: message`` as the reason. A deployment without
``@serve.ingress`` cannot take a WebSocket: the handshake is denied with 500 and a
``TypeError`` saying so (Ray fails it with an error too). ``request_timeout_s`` does
not apply to WebSockets; each takes one of the replica's ``max_ongoing_requests``
for its life. As with Ray, the app's ``@app.websocket("/")`` under
``route_prefix="/echo"`` is ``ws://host/echo/`` (Starlette does not redirect a
WebSocket from ``/echo``). A client that sends faster than its handler receives is
slowed by the request stream's flow control: a few messages wait in the replica,
the rest in Uvicorn, which stops reading the client's socket.

Example:
    >>> import asyncio
    >>> from streamdata.serve import wire
    >>> inbox = RequestInbox()
    >>> inbox.feed(wire.Feed(1, {"type": "websocket.receive", "text": "hi"}))
    >>> inbox.leave()  # the proxy left
    >>> receive = WebSocketReceive(inbox)
    >>> [asyncio.run(receive())["type"] for _ in range(3)]
    ['websocket.connect', 'websocket.receive', 'websocket.disconnect']
    >>> close_reason(ValueError("bad input"))
    'ValueError: bad input'
    >>> len(close_reason(ValueError("é" * 100)).encode())  # what a close frame holds: 123 bytes at most
    122
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator, Awaitable, Callable

from streamdata.errors import BackPressureError
from streamdata.serve import wire
from streamdata.serve.asgi import asgi_app
from streamdata.serve.duplex import RequestInbox

Emit = Callable[[list, bool], Awaitable[None]]
Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]

#: the close code of a WebSocket whose deployment raised after the handshake
INTERNAL_ERROR_CODE = 1011
#: the close code a handler sees when its client (or the proxy) left without a close frame
ABNORMAL_CLOSURE_CODE = 1006
#: the longest close reason a close frame carries (bytes)
MAX_REASON_BYTES = 123
#: the ASGI extension for an HTTP response instead of the handshake (Uvicorn has it)
DENIAL_EXTENSION = "websocket.http.response"


class WebSocketClientGone(ConnectionResetError):
    """Sending on a WebSocket whose client left (an ``OSError``: Starlette turns it into
    ``WebSocketDisconnect(1006)``, as with Uvicorn's own ``ClientDisconnected``)."""


class WebSocketReceive:
    """A replica's ASGI ``receive`` for one WebSocket over its request stream ``inbox``:
    ``websocket.connect``, then the client's messages as the proxy feeds them. After a
    ``websocket.disconnect`` (or the end of the stream: the proxy left, code 1006) it
    keeps returning that disconnect; once the client or the proxy is gone,
    ``disconnected`` is True (sends fail)."""

    def __init__(self, inbox: RequestInbox) -> None:
        self._inbox = inbox
        self._connected = False
        self._last: dict | None = None

    @property
    def disconnected(self) -> bool:
        return self._last is not None or self._inbox.finished

    async def __call__(self) -> dict:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        if self._last is not None:
            return self._last
        try:
            message = await self._inbox.__anext__()
        except StopAsyncIteration:  # the proxy ended the stream without the client's disconnect
            message = {"type": "websocket.disconnect", "code": ABNORMAL_CLOSURE_CODE, "reason": ""}
        if message.get("type") == "websocket.disconnect":
            self._last = message
        return message


async def run_websocket(obj: Any, scope: dict, inbox: RequestInbox, emit: Emit, deployment: str = "") -> None:
    """Serve one WebSocket with the deployment's object ``obj`` (on the replica), the
    client's messages read from ``inbox``: each ASGI message the app sends is emitted
    at once (``emit([message], False)``).

    Raises:
        TypeError: the deployment has no ``@serve.ingress`` ASGI app.
    """
    app = asgi_app(obj)
    if app is None:
        raise TypeError(f"deployment {deployment!r} cannot serve WebSockets: it has no @serve.ingress app; "
                        "decorate its class with @serve.ingress(app) and declare @app.websocket(...) routes")
    scope = dict(scope)
    scope.setdefault("asgi", {"version": "3.0", "spec_version": "2.4"})
    receive = WebSocketReceive(inbox)

    async def send(message: dict) -> None:
        if receive.disconnected:
            raise WebSocketClientGone(f"the client of WebSocket {scope.get('path', '')!r} disconnected")
        await emit([message], False)

    await app(scope, receive, send)


def close_reason(exc: BaseException | dict) -> str:
    """``type: message`` of a deployment's error (its exception or its JSON error body),
    cut to what a close frame holds."""
    if isinstance(exc, dict):
        text = f"{exc.get('error', 'Error')}: {exc.get('message', '')}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    data = text.encode()[:MAX_REASON_BYTES]
    return data.decode(errors="ignore")


async def deny(scope: dict, send: Send, status: int, body: bytes,
               headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Refuse the handshake with an HTTP ``status`` and JSON ``body`` (a close before
    accepting, which Uvicorn answers with 403, where the server lacks the extension)."""
    if DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008, "reason": ""})
        return
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])]})
    await send({"type": "websocket.http.response.body", "body": body, "more_body": False})


class _Progress:
    """What the client was sent so far (for the proxy's metrics and its error handling)."""

    __slots__ = ("started", "accepted", "closed", "status")

    def __init__(self) -> None:
        self.started = False  # the handshake was answered (accepted or denied)
        self.accepted = False
        self.closed = False  # the server sent a close frame or a denial's last body part
        self.status = 0  # the close code sent, or the denial's HTTP status

    def track(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "websocket.accept":
            self.started = self.accepted = True
        elif kind == "websocket.close":
            self.started = self.closed = True
            self.status = int(message.get("code", 1000) or 1000) if self.accepted else 403
        elif kind == "websocket.http.response.start":
            self.started = True
            self.status = int(message["status"])
        elif kind == "websocket.http.response.body" and not message.get("more_body", False):
            self.closed = True


async def relay_websocket(router: Any, scope: dict, inner: dict, receive: Receive, send: Send, *,
                          route: str, request_id: str, model_id: str = "", session_id: str = "",
                          refusal: Any = None,
                          error_body: Callable[[BaseException], bytes]) -> tuple[int, bool]:
    """Relay one WebSocket (whose ``websocket.connect`` the caller received) between the
    client and a replica that ``router`` picks, until either side ends it.

    Args:
        router: the ingress deployment's router.
        scope: the client's scope (Uvicorn's); ``inner``: the scope the replica gets.
        refusal: the deployment's ``BackpressureConfig`` (None: 503) for a full deployment.
        error_body: the JSON body of a deployment's exception.

    Returns:
        The status for the metrics (the close code, or the HTTP status of a denied
        handshake) and whether it counts as an error.
    """
    client_code: int | None = None

    async def client_messages() -> AsyncIterator[dict]:  # read as the replica grants credit
        nonlocal client_code
        while True:
            message = await receive()
            if message.get("type") == "websocket.disconnect":
                client_code = int(message.get("code", 1005) or 1005)
                yield message
                return
            yield message

    progress = _Progress()
    try:
        async with contextlib.aclosing(router.stream(
                "__call__", (inner,), {}, kind=wire.WEBSOCKET, model_id=model_id, route=route,
                session_id=session_id, request_id=request_id, feed=client_messages())) as replies:
            async for batch in replies:
                for message in batch:
                    progress.track(message)
                    try:
                        await send(message)
                    except OSError:  # the client is gone: leaving the stream tells the replica
                        return _outcome(progress, client_code or ABNORMAL_CLOSURE_CODE)
    except BackPressureError as exc:
        if not progress.started:
            code = refusal.status_code if refusal is not None else 503
            await deny(scope, send, code, json.dumps({"error": "BackPressureError", "message": str(exc)}).encode(),
                       refusal.headers() if refusal is not None else None)
            return code, True
    except Exception as exc:  # noqa: BLE001 - the deployment's error: a denial or a close 1011
        if not progress.started:
            await deny(scope, send, 500, error_body(exc))
            return 500, True
        if progress.accepted and not progress.closed and client_code is None:
            with contextlib.suppress(OSError):
                await send({"type": "websocket.close", "code": INTERNAL_ERROR_CODE,
                            "reason": close_reason(json.loads(error_body(exc)))})
            return INTERNAL_ERROR_CODE, True
    if not progress.started:  # the app ended without answering the handshake
        await deny(scope, send, 500, json.dumps({"error": "RuntimeError", "message": (
            "the deployment ended the WebSocket without accepting or refusing it")}).encode())
        return 500, True
    return _outcome(progress, client_code)


def _outcome(progress: _Progress, client_code: int | None) -> tuple[int, bool]:
    """The status of a relayed WebSocket for the metrics (normal closes are not errors)."""
    if progress.status and not progress.accepted:
        return progress.status, progress.status >= 400
    status = progress.status or client_code or 1000
    return status, status not in (1000, 1001)


__all__ = ["DENIAL_EXTENSION", "WebSocketClientGone", "WebSocketReceive", "close_reason", "deny", "relay_websocket",
           "run_websocket"]
