"""HTTP inside a replica: the deployment's code sees a Starlette ``Request`` and
may answer with any value, or runs as an ASGI app (``@serve.ingress``).

The proxy sends the request's ASGI scope and body; :func:`run_http` runs the
deployment and hands each batch of ASGI ``send`` messages to ``emit``:
``emit(messages, final=False)`` for a part of a streamed body (sent as soon as
the deployment produces it), ``emit(messages, final=True)`` once at the end.

Return values become responses as Ray Serve makes them: a Starlette
``Response`` as it is; a generator → ``StreamingResponse``; ``None`` → an empty
body; ``str`` and ``bytes`` → ``text/plain``; anything else → compact JSON, through
FastAPI's ``jsonable_encoder`` (pydantic models, dataclasses, dates, query params...)
with NumPy arrays and scalars as lists and numbers, pandas DataFrames as lists of
records and exceptions as their message. A deployment whose ``__call__`` takes no
argument is called with none.

Example:
    >>> import asyncio
    >>> class Echo:
    ...     async def __call__(self, request):
    ...         return {"got": await request.json(), "q": request.query_params["x"]}
    >>> scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"x=1", "headers": []}
    >>> out = []
    >>> async def emit(messages, final):
    ...     out.extend(messages)
    >>> asyncio.run(run_http(Echo(), scope, b'[1, 2]', emit))
    >>> out[0]["status"], out[1]["body"]
    (200, b'{"got":[1,2],"q":"1"}')
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Awaitable, Callable

Emit = Callable[[list, bool], Awaitable[None]]

#: the attribute ``@serve.ingress`` sets on a class: its ASGI app
ASGI_APP_ATTR = "__serve_asgi_app__"
#: the attribute ``@serve.ingress`` sets on a class given a function that builds the app
ASGI_BUILDER_ATTR = "__serve_asgi_app_builder__"
#: where a replica's object keeps the app its class's builder made
_BUILT_ATTR = "__serve_built_asgi_app__"


def asgi_app(obj: Any) -> Any:
    """The ASGI app of a deployment's object: its class's ``@serve.ingress`` app, or the app
    the ingress's builder function makes (once per replica, at its first request); None
    for a deployment without ``@serve.ingress``.

    Raises:
        TypeError: the builder returned something that is not an ASGI app.
    """
    app = getattr(type(obj), ASGI_APP_ATTR, None)
    if app is not None:
        return app
    builder = getattr(type(obj), ASGI_BUILDER_ATTR, None)
    if builder is None:
        return None
    built = obj.__dict__.get(_BUILT_ATTR)
    if built is None:
        built = builder()
        if not callable(built):
            raise TypeError(f"the @serve.ingress builder {getattr(builder, '__name__', builder)!r} returned "
                            f"{type(built).__name__}, not an ASGI app")
        obj.__dict__[_BUILT_ATTR] = built
    return built


def to_response(result: Any) -> Any:
    """The Starlette response for a deployment's return value.

    Example:
        >>> import numpy as np
        >>> to_response("hi").media_type, to_response({"a": np.arange(2)}).body, to_response(None).body
        ('text/plain', b'{"a":[0,1]}', b'')
    """
    from starlette.responses import Response, StreamingResponse

    if isinstance(result, Response):
        return result
    if inspect.isgenerator(result) or inspect.isasyncgen(result):
        return StreamingResponse(result)
    if result is None:
        return Response(b"", media_type="text/plain")
    if isinstance(result, str):
        return Response(result, media_type="text/plain")
    if isinstance(result, (bytes, bytearray, memoryview)):
        return Response(bytes(result), media_type="text/plain")
    try:
        try:  # plain JSON values (the common case) need no encoder walk
            body = json.dumps(result, separators=(",", ":"))
        except (TypeError, ValueError):
            body = json.dumps(_jsonable(result), separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the deployment returned {type(result).__name__}, which JSON cannot encode ({exc}); "
                        "return a JSON-able value, str, bytes or a starlette Response") from None
    return Response(body, media_type="application/json")


def _jsonable(result: Any) -> Any:
    """``result`` as plain JSON values (FastAPI's encoder, with NumPy, pandas and exceptions)."""
    import numpy as np
    import pandas as pd

    encoders: dict[Any, Callable[[Any], Any]] = {
        np.ndarray: lambda a: a.tolist(), np.generic: lambda v: v.item(), Exception: str,
        pd.DataFrame: lambda df: df.to_dict(orient="records")}
    try:
        from fastapi.encoders import jsonable_encoder
    except ImportError:  # the serve extra brings FastAPI; without it, plain values only
        return result
    return jsonable_encoder(result, custom_encoder=encoders)


def takes_request(obj: Any) -> bool:
    """Whether the deployment's ``__call__`` takes an argument (the request).

    Example:
        >>> class NoArgs:
        ...     def __call__(self): return "hi"
        >>> takes_request(NoArgs()), takes_request(lambda request: None)
        (False, True)
    """
    try:
        return bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):  # a callable without a signature: give it the request
        return True


class _Sender:
    """Buffers ASGI messages; sends at once what belongs to a streamed body."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.buffer: list = []
        self.streamed = False

    async def send(self, message: dict) -> None:
        self.buffer.append(message)
        if message.get("type") == "http.response.body" and message.get("more_body", False):
            self.streamed = True
            batch, self.buffer = self.buffer, []
            await self.emit(batch, False)

    async def finish(self) -> None:
        batch, self.buffer = self.buffer, []
        await self.emit(batch, True)


async def run_http(obj: Any, scope: dict, body: bytes, emit: Emit) -> None:
    """Serve one HTTP request with the user's object ``obj``.

    An exception raised before any part of the response left the replica is
    raised here (the proxy answers 500 with its type and message); after that,
    the stream ends where it broke. A cancelled request (``asyncio.CancelledError``)
    stops where it is.
    """
    from starlette.requests import Request

    scope = dict(scope)
    scope.setdefault("asgi", {"version": "3.0", "spec_version": "2.4"})
    scope.setdefault("path_params", {})
    received = False
    done = asyncio.Event()

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    sender = _Sender(emit)
    try:
        app = asgi_app(obj)
        if app is not None:
            await app(scope, receive, sender.send)
        else:
            result = obj(Request(scope, receive)) if takes_request(obj) else obj()
            if inspect.isawaitable(result):
                result = await result
            await to_response(result)(scope, receive, sender.send)
    except asyncio.CancelledError:
        raise  # the request was cancelled (its client left): no end of the response is sent
    except BaseException:
        if not sender.streamed:
            raise
    finally:
        done.set()
    await sender.finish()


__all__ = ["ASGI_APP_ATTR", "ASGI_BUILDER_ATTR", "asgi_app", "run_http", "takes_request", "to_response"]
