"""The gRPC context of a deployment method (Ray Serve's ``ray.serve.grpc_util``).

A deployment method that the serve gRPC proxy calls may take a ``grpc_context``
keyword argument: it gets a :class:`RayServegRPCContext`, a picklable copy of the
call's ``grpc.ServicerContext`` that the proxy makes. The method reads the
client's side of the call from it (invocation metadata, peer, auth context) and
sets the answer's status code, details, trailing metadata and compression on it;
the copy travels back with the answer and the proxy applies it to the gRPC
response. A code set before the method raises is the response's code (with the
details set, else the exception's text) instead of ``INTERNAL``.

The trailing metadata of every response carries the request's ``request_id``
(the client's ``request_id`` invocation metadata, or a new id);
:meth:`RayServegRPCContext.set_trailing_metadata` keeps it first.

A client-streaming or bidirectional-streaming method gets the client's messages
as a :class:`gRPCInputStream` (an async iterator) instead of one request proto:
the replica makes it over the call's request stream, which the proxy feeds as
the client sends (:mod:`.duplex`).

Example:
    >>> import grpc
    >>> ctx = RayServegRPCContext()
    >>> ctx.set_trailing_metadata([("request_id", "r1")])  # what the proxy does
    >>> ctx.set_code(grpc.StatusCode.INVALID_ARGUMENT)
    >>> ctx.set_details("foo not found")
    >>> ctx.set_trailing_metadata([("num", "0")])
    >>> ctx.code().name, ctx.details(), ctx.trailing_metadata(), ctx.request_id()
    ('INVALID_ARGUMENT', 'foo not found', [('request_id', 'r1'), ('num', '0')], 'r1')
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, TypeVar

from streamdata.errors import RayServeException
from streamdata.serve.duplex import RequestStreamCancelled

if TYPE_CHECKING:
    import grpc

#: the keyword argument a deployment method takes to receive the call's context (Ray's name)
GRPC_CONTEXT_ARG_NAME = "grpc_context"
#: the invocation and trailing metadata key of a request's id (Ray's name)
REQUEST_ID_KEY = "request_id"

Metadata = list[tuple[str, Any]]
T = TypeVar("T")


class gRPCInputStream(AsyncIterator[T]):  # noqa: N801 - Ray's name
    """The client's messages of a client-streaming or bidirectional-streaming RPC, as
    the deployment method gets them: ``async for request in request_stream``.

    ``request_iterator`` is any async iterator of messages (in a replica: the call's
    request stream, fed by the proxy as the client sends); one that raises
    :class:`~.duplex.RequestStreamCancelled` (the client cancelled, or the call ended)
    ends the iteration with ``is_cancelled()`` True, as does setting ``cancel_event``
    (an ``asyncio.Event``). It pickles with its iterator (a replica's request stream
    does not: it is read where it arrived).

    Example:
        >>> import asyncio
        >>> async def messages():
        ...     for n in (1, 2, 3):
        ...         yield n
        >>> async def total(stream):
        ...     return sum([n async for n in stream]), stream.is_exhausted, stream.is_cancelled()
        >>> asyncio.run(total(gRPCInputStream(messages())))
        (6, True, False)
    """

    def __init__(self, request_iterator: AsyncIterator[T], *, cancel_event: asyncio.Event | None = None) -> None:
        self._request_iterator = request_iterator
        self._cancel_event = cancel_event if cancel_event is not None else asyncio.Event()
        self._exhausted = False

    def __aiter__(self) -> gRPCInputStream[T]:
        return self

    def __iter__(self) -> Any:
        raise TypeError("a gRPCInputStream is an async iterator: read it with `async for request in stream` "
                        "in an async method")

    async def __anext__(self) -> T:
        """The next message; ``StopAsyncIteration`` once the client is done or cancelled."""
        if self._exhausted or self._cancel_event.is_set():
            raise StopAsyncIteration
        try:
            return await self._request_iterator.__anext__()
        except RequestStreamCancelled:
            self._cancel_event.set()
            self._exhausted = True
            raise StopAsyncIteration from None
        except StopAsyncIteration:
            self._exhausted = True
            raise

    def is_cancelled(self) -> bool:
        """Whether the client cancelled the call (or :meth:`cancel` was called)."""
        return self._cancel_event.is_set()

    def cancel(self) -> None:
        """Stop iterating: the next ``__anext__`` ends the stream."""
        self._cancel_event.set()

    @property
    def is_exhausted(self) -> bool:
        """Whether every message of the stream was read."""
        return self._exhausted

    def __getstate__(self) -> dict[str, Any]:  # travels to the replica without its (loop-bound) event
        return {"request_iterator": self._request_iterator, "cancelled": self._cancel_event.is_set(),
                "exhausted": self._exhausted}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._request_iterator = state["request_iterator"]
        self._cancel_event = asyncio.Event()
        if state["cancelled"]:
            self._cancel_event.set()
        self._exhausted = state["exhausted"]

    def __repr__(self) -> str:
        return f"gRPCInputStream(exhausted={self._exhausted}, cancelled={self.is_cancelled()})"


class RayServegRPCContext:  # noqa: N801 - Ray's name
    """A picklable copy of a gRPC call's ``ServicerContext`` for a deployment method.

    ``grpc_context`` is the proxy's ``grpc.aio.ServicerContext`` (None: an empty one).

    Example:
        >>> ctx = RayServegRPCContext()
        >>> ctx.invocation_metadata(), ctx.code(), ctx.details()
        ([], None, '')
    """

    def __init__(self, grpc_context: Any = None) -> None:
        self._invocation_metadata: Metadata = []
        self._auth_context: dict[str, Any] = {}
        self._peer = ""
        self._peer_identities: Any = None
        self._peer_identity_key: str | None = None
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing_metadata: Metadata = []
        self._compression: Any = None
        if grpc_context is not None:
            self._invocation_metadata = [(k, v) for k, v in grpc_context.invocation_metadata() or ()]
            self._auth_context = dict(grpc_context.auth_context() or {})
            self._peer = grpc_context.peer()
            self._peer_identities = grpc_context.peer_identities()
            self._peer_identity_key = grpc_context.peer_identity_key()

    # ---- the client's side of the call
    def invocation_metadata(self) -> Metadata:
        """The metadata the client sent, as ``(key, value)`` pairs."""
        return self._invocation_metadata

    def _metadata_value(self, key: str) -> Any:
        return next((v for k, v in self._invocation_metadata if k == key), None)

    def request_id(self) -> str | None:
        """The request's id: the one the response carries back, else the client's."""
        sent = next((v for k, v in self._trailing_metadata if k == REQUEST_ID_KEY), None)
        return sent if sent is not None else self._metadata_value(REQUEST_ID_KEY)

    def application(self) -> str | None:
        """The application the client named in its ``application`` metadata, if any."""
        return self._metadata_value("application")

    def multiplexed_model_id(self) -> str | None:
        """The model the client named in its ``multiplexed_model_id`` metadata, if any."""
        return self._metadata_value("multiplexed_model_id")

    def traceparent(self) -> str | None:
        """The client's ``traceparent`` metadata, if any."""
        return self._metadata_value("traceparent")

    def tracestate(self) -> str | None:
        """The client's ``tracestate`` metadata, if any."""
        return self._metadata_value("tracestate")

    def auth_context(self) -> dict[str, Any]:
        """The call's auth properties: name → iterable of bytes."""
        return self._auth_context

    def peer(self) -> str:
        """The client's address, as gRPC writes it (``ipv4:127.0.0.1:5555``)."""
        return self._peer

    def peer_identities(self) -> Any:
        """The client's identities (bytes), or None when the call is not authenticated."""
        return self._peer_identities

    def peer_identity_key(self) -> str | None:
        """The auth property that identifies the client, or None when not authenticated."""
        return self._peer_identity_key

    # ---- the answer
    def code(self) -> grpc.StatusCode | None:
        """The status code the response will carry (None: the proxy decides)."""
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        """Answer with ``code`` (a ``grpc.StatusCode``)."""
        if not (hasattr(code, "name") and hasattr(code, "value")):
            raise TypeError(f"set_code takes a grpc.StatusCode, got {code!r}")
        self._code = code

    def details(self) -> str:
        """The status details the response will carry."""
        return self._details

    def set_details(self, details: str) -> None:
        """Answer with the status details ``details``."""
        if not isinstance(details, str):
            raise TypeError(f"set_details takes a str, got {type(details).__name__}")
        self._details = details

    def trailing_metadata(self) -> Metadata:
        """The trailing metadata the response will carry (``request_id`` first)."""
        return self._trailing_metadata

    def set_trailing_metadata(self, trailing_metadata: Metadata) -> None:
        """Answer with ``trailing_metadata`` (and the ``request_id``); a later call replaces it."""
        pairs = [tuple(pair) for pair in trailing_metadata]
        if not all(len(p) == 2 and isinstance(p[0], str) for p in pairs):
            raise TypeError(f"set_trailing_metadata takes (str, value) pairs, got {trailing_metadata!r}")
        kept = [(k, v) for k, v in self._trailing_metadata if k == REQUEST_ID_KEY][:1]
        self._trailing_metadata = kept + [(k, v) for k, v in pairs if not (kept and k == REQUEST_ID_KEY)]

    def set_compression(self, compression: grpc.Compression) -> None:
        """Compress the response with ``compression`` (a ``grpc.Compression``)."""
        self._compression = compression

    def _apply(self, grpc_context: Any) -> None:
        """Set what the method set on the proxy's ``grpc_context`` (the response's)."""
        if self._code is not None:
            grpc_context.set_code(self._code)
        if self._details:
            grpc_context.set_details(self._details)
        if self._compression is not None:
            grpc_context.set_compression(self._compression)
        if self._trailing_metadata:
            grpc_context.set_trailing_metadata(tuple(self._trailing_metadata))

    def __repr__(self) -> str:
        return (f"RayServegRPCContext(code={self._code}, details={self._details!r}, "
                f"trailing_metadata={self._trailing_metadata!r})")


@dataclass(frozen=True)
class GrpcOutcome:
    """A gRPC call's answer as a replica sends it when the method took a context:
    the unary result (``value``) or, after a stream's items, the context alone."""

    context: RayServegRPCContext
    value: Any = None


class gRPCStatusError(RayServeException):  # noqa: N801 - Ray's name
    """A deployment method raised after setting a non-OK code on its ``grpc_context``:
    the proxy answers with that code, the context's details (else this message) and
    its trailing metadata."""

    def __init__(self, message: str, context: RayServegRPCContext) -> None:
        super().__init__(message)
        self.context = context

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.context))


def takes_grpc_context(fn: Callable) -> bool:
    """Whether ``fn`` has a ``grpc_context`` parameter.

    Example:
        >>> takes_grpc_context(lambda request, grpc_context: None), takes_grpc_context(lambda request: None)
        (True, False)
    """
    try:
        return GRPC_CONTEXT_ARG_NAME in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a callable without a signature (a builtin)
        return False


def grpc_call_kwargs(fn: Callable, kwargs: dict[str, Any]) -> tuple[dict[str, Any], RayServegRPCContext | None]:
    """The keyword arguments to call ``fn`` with for a gRPC call whose ``kwargs`` hold the
    proxy's context, and that context when ``fn`` takes it (else None: it is dropped).

    Example:
        >>> kwargs, ctx = grpc_call_kwargs(lambda request: None, {"grpc_context": RayServegRPCContext()})
        >>> kwargs, ctx
        ({}, None)
    """
    rest = dict(kwargs)
    context = rest.pop(GRPC_CONTEXT_ARG_NAME, None)
    if context is None or not takes_grpc_context(fn):
        return rest, None
    rest[GRPC_CONTEXT_ARG_NAME] = context
    return rest, context


def grpc_status_error(exc: BaseException, context: RayServegRPCContext) -> BaseException:
    """``exc`` as the proxy should see it: a :class:`gRPCStatusError` when the method
    set a non-OK code on ``context`` before raising, else ``exc`` itself."""
    code = context.code()
    if code is None or getattr(code, "name", "") == "OK" or not isinstance(exc, Exception):
        return exc
    error = gRPCStatusError(f"{type(exc).__name__}: {exc}", context)
    error.__cause__ = exc
    return error


__all__ = ["GRPC_CONTEXT_ARG_NAME", "GrpcOutcome", "RayServegRPCContext", "RequestStreamCancelled",
           "gRPCInputStream", "gRPCStatusError", "grpc_call_kwargs", "grpc_status_error", "takes_grpc_context"]
