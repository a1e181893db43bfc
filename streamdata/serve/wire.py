"""The data plane's messages: length-prefixed pickles over a Unix socket between
a caller (a router in the proxy, a handle in the driver or in another replica,
the controller) and a replica.

A :class:`Call` asks a replica to run something; the replica answers with
:class:`Reply` frames carrying the same ``req_id``: one ``RESULT`` or ``ERROR``,
or, for a stream, ``CHUNK`` frames and then ``END`` (or ``ERROR``). A duplex
request (``Call.feed``: a WebSocket, a gRPC client- or bidi-streaming call) also
has :class:`Feed` frames going the other way, from the caller to the replica,
while it runs: its request stream, flow-controlled by the ``CREDIT`` replies
the replica grants (see :mod:`.duplex`). A :class:`Cancel` frame from the caller
cancels its request ``req_id`` in flight (see :mod:`.cancellation`).

Example:
    >>> frame = encode(Call(req_id=1, method="__call__", args=(2,), kwargs={}))
    >>> decode(frame[HEADER.size:]).args
    (2,)
    >>> isinstance(remote_error(encode_error(ValueError("bad")), "f"), ValueError)
    True
"""

from __future__ import annotations

import asyncio
import io
import pickle
import struct
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct("!I")

#: Call kinds
CALL = "call"        # a Python call of a method (handles)
HTTP = "http"        # an ASGI request: args = (scope, body); replies carry ASGI messages
GRPC = "grpc"        # a gRPC request: args = (request proto,); method = the RPC's name
WEBSOCKET = "websocket"  # a WebSocket: args = (scope,); Feed frames carry the client's ASGI messages
# (a GRPC call with feed=True: Feed frames carry the client's messages; the method gets them as its first argument)
CONTROL = "control"  # the controller's requests: check_health, reconfigure, stats, autoscaling_stats, drain

#: Reply kinds (REJECTED: the replica has max_ongoing_requests in flight; the request did not run;
#: CREDIT: the caller of a duplex request may send ``value`` more Feed messages)
RESULT, ERROR, CHUNK, END, REJECTED, CREDIT = 0, 1, 2, 3, 4, 5

#: Feed kinds: one message of the request stream; the caller sends no more (the stream ends);
#: the caller left (it cancelled, or stopped waiting for the answer: the stream is cancelled)
MESSAGE, DONE, LEFT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a replica."""

    req_id: int
    method: str
    args: tuple
    kwargs: dict
    kind: str = CALL
    stream: bool = False
    model_id: str = ""
    request_id: str = ""
    route: str = ""
    session_id: str = ""
    feed: bool = False  # duplex: Feed frames follow with the request stream


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer frame of a replica."""

    req_id: int
    kind: int
    value: Any = None


@dataclass(frozen=True, slots=True)
class Feed:
    """The request stream of the caller's duplex request ``req_id`` in flight: one
    message (``MESSAGE``: a WebSocket's ``websocket.receive`` or ``websocket.disconnect``,
    a gRPC client's request), its end (``DONE``) or the caller gone (``LEFT``)."""

    req_id: int
    value: Any = None
    kind: int = MESSAGE


@dataclass(frozen=True, slots=True)
class Cancel:
    """The caller cancels its request ``req_id`` in flight (it stopped waiting for the
    answer): the replica cancels the task running it; nothing answers the frame."""

    req_id: int


@dataclass(frozen=True, slots=True)
class RemoteError:
    """An exception raised in a replica, as it travels: the pickled exception when it
    pickles, and always its type name, message and formatted traceback."""

    type_name: str
    message: str
    traceback: str
    pickled: bytes | None = field(default=None, repr=False)


class _ByValue(Exception):
    """Raised while pickling: the value holds a class or function that only exists in this
    process (defined in ``__main__``), which the other side cannot import."""


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:  # not called for plain ints, strs, lists, dicts...
        if isinstance(obj, (type, types.FunctionType)) and getattr(obj, "__module__", None) == "__main__":
            raise _ByValue
        return NotImplemented


def dumps(value: Any) -> bytes:
    """Pickle (protocol 5); cloudpickle for what plain pickle cannot take by reference:
    what does not pickle, and what holds classes or functions of ``__main__`` (a script's
    own classes, which the other process cannot import; cloudpickle sends them by value).

    Example:
        >>> class Point:  # doctest's globals are its __main__
        ...     def __init__(self, x): self.x = x
        >>> Point.__module__ = "__main__"
        >>> pickle.loads(dumps(Point(3))).x
        3
    """
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=5).dump(value)
        return buffer.getvalue()
    except (_ByValue, pickle.PicklingError, TypeError, AttributeError):
        import cloudpickle

        return cloudpickle.dumps(value, protocol=5)


def encode(msg: Call | Reply | Feed | Cancel) -> bytes:
    """A frame: a 4-byte big-endian length and the pickled message."""
    data = dumps(msg)
    return HEADER.pack(len(data)) + data


def decode(data: bytes) -> Any:
    return pickle.loads(data)


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message of ``reader``; raises ``asyncio.IncompleteReadError`` at EOF."""
    header = await reader.readexactly(HEADER.size)
    (size,) = HEADER.unpack(header)
    return pickle.loads(await reader.readexactly(size))


def encode_error(exc: BaseException) -> RemoteError:
    """``exc`` as a :class:`RemoteError`."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        pickled = dumps(exc)
        pickle.loads(pickled)
    except Exception:  # noqa: BLE001 - an exception that does not travel: its text does
        pickled = None
    return RemoteError(type(exc).__name__, str(exc), tb, pickled)


def remote_error(err: RemoteError, function_name: str) -> BaseException:
    """The exception to raise in the caller: a TaskError that is also an instance of
    the replica's exception class (so ``except ValueError`` works), with the
    replica's traceback."""
    from streamdata.errors import TaskError

    cause: BaseException | None = None
    if err.pickled is not None:
        try:
            cause = pickle.loads(err.pickled)
        except Exception:  # noqa: BLE001 - e.g. the class is not importable here
            cause = None
    if cause is None:
        return TaskError(f"{err.type_name}: {err.message}", remote_traceback=err.traceback,
                         function_name=function_name)
    return TaskError.wrap(cause, err.traceback, function_name)


__all__ = ["CALL", "CHUNK", "CONTROL", "CREDIT", "DONE", "END", "ERROR", "GRPC", "HEADER", "HTTP", "LEFT", "MESSAGE",
           "REJECTED", "RESULT", "WEBSOCKET",
           "Call", "Cancel", "Feed", "RemoteError", "Reply", "decode", "dumps", "encode", "encode_error", "read_frame",
           "remote_error"]
