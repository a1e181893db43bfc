"""The caller's end of the data plane: one Unix-socket connection to a replica,
many requests in flight on it at once (each with its own ``req_id``).

When the connection drops (the replica's process died), every request in flight
on it fails at once with :class:`~streamdata.errors.ActorDiedError` naming the
replica, and ``on_lost`` tells the owner (a router stops sending there).

A duplex request (``stream(..., feed=)``) also sends the caller's messages to the
replica while it runs, as far as the replica's credit allows (:mod:`.duplex`).

A caller that stops waiting for a request the replica has not answered (its task
was cancelled, or it stopped iterating a stream) sends a :class:`~.wire.Cancel`
frame: the replica cancels the request (:mod:`.cancellation`). A duplex request
sends ``LEFT`` instead: its method sees its request stream cancelled and ends as
it chooses.

Example:
    >>> conn = ReplicaConnection("r#0", "/nonexistent.sock", "d")
    >>> conn.alive
    True
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, AsyncIterator, Callable

from streamdata.errors import ActorDiedError
from streamdata.serve import wire
from streamdata.serve.duplex import Credit
from streamdata.serve.logs import logger

#: how long opening a connection to a replica may take
CONNECT_TIMEOUT_S = 10.0


class ReplicaUnreachableError(ActorDiedError):
    """The replica could not be reached: the request never left (safe to send elsewhere)."""


class ReplicaRejectedError(ReplicaUnreachableError):
    """The replica had ``max_ongoing_requests`` in flight (from other callers) and did not run the request."""


class ReplicaConnection:
    """A connection to one replica (opened on first use); use it from one event loop."""

    def __init__(self, replica_id: str, path: str, deployment: str,
                 on_lost: Callable[[ReplicaConnection], None] | None = None) -> None:
        self.replica_id = replica_id
        self.path = path
        self.deployment = deployment
        self.on_lost = on_lost
        self.alive = True
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Future | None = None
        self._pending: dict[int, asyncio.Future | asyncio.Queue] = {}
        self._credits: dict[int, Credit] = {}  # the duplex requests in flight: what they may send
        self._reader_task: asyncio.Task | None = None

    async def _connect(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        if not self.alive:
            raise ReplicaUnreachableError(f"replica {self.replica_id} of deployment {self.deployment!r} is gone")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> asyncio.StreamWriter:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.path, limit=2 ** 26), CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            self._lost(f"cannot connect to it ({type(exc).__name__}: {exc})")
            raise ReplicaUnreachableError(f"replica {self.replica_id} of deployment {self.deployment!r} cannot be "
                                          f"reached ({type(exc).__name__}: {exc})") from exc
        self._writer = writer
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
        return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await wire.read_frame(reader)
                if reply.kind == wire.CREDIT:
                    credit = self._credits.get(reply.req_id)
                    if credit is not None:
                        credit.grant(reply.value)
                    continue
                target = self._pending.get(reply.req_id)
                if target is None:
                    continue
                if type(target) is asyncio.Queue:
                    target.put_nowait(reply)
                    if reply.kind != wire.CHUNK:
                        del self._pending[reply.req_id]
                else:
                    del self._pending[reply.req_id]
                    if not target.done():
                        target.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        self._lost("its process died or closed the connection")

    def _send(self, writer: asyncio.StreamWriter, req_id: int, call: Any) -> None:
        """Write one request. A connection the replica's death closed before the reader saw it
        raises ReplicaUnreachableError: the request was never delivered, so the router tries
        another replica."""
        try:
            if writer.is_closing():
                raise ConnectionResetError("the connection is closed")
            writer.write(wire.encode(call))
        except (RuntimeError, ConnectionError, OSError) as exc:
            self._pending.pop(req_id, None)
            self._lost(f"its connection closed ({type(exc).__name__}: {exc})")
            raise ReplicaUnreachableError(f"replica {self.replica_id} of deployment {self.deployment!r} died: "
                                          f"its connection closed ({exc})") from exc

    def _died_error(self, why: str = "") -> ActorDiedError:
        text = f"replica {self.replica_id} of deployment {self.deployment!r} died"
        return ActorDiedError(text + (f" while handling this request: {why}" if why else ""))

    def _lost(self, why: str) -> None:
        if not self.alive:
            return
        self.alive = False
        err = self._died_error(why)
        pending, self._pending = self._pending, {}
        self._credits = {}
        for target in pending.values():
            if type(target) is asyncio.Queue:
                target.put_nowait(wire.Reply(0, wire.ERROR, err))
            elif not target.done():
                target.set_exception(err)
        if self._writer is not None:
            self._writer.close()
        if self.on_lost is not None:
            self.on_lost(self)

    async def call(self, method: str, args: tuple = (), kwargs: dict | None = None, *,
                   kind: str = wire.CALL, model_id: str = "", request_id: str = "", route: str = "",
                   session_id: str = "", feed: AsyncIterator[Any] | None = None) -> Any:
        """Send one request and wait for its single answer (its value, or its error raised);
        ``feed``: a duplex request's messages, as for :meth:`stream`."""
        writer = await self._connect()
        req_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        self._send(writer, req_id, wire.Call(req_id, method, args, kwargs or {}, kind, False, model_id,
                                             request_id, route, session_id, feed is not None))
        feeding = self._start_feed(writer, req_id, feed)
        try:
            reply = await fut
        except asyncio.CancelledError:
            if self._pending.pop(req_id, None) is not None and feeding is None:
                self._cancel(writer, req_id)
            raise
        finally:
            if feeding is not None:
                self._stop_feed(writer, req_id, feeding, answered=fut.done() and not fut.cancelled())
        if reply.kind == wire.ERROR:
            raise _as_exception(reply.value, f"{self.deployment}.{method}")
        if reply.kind == wire.REJECTED:
            raise ReplicaRejectedError(f"replica {self.replica_id} of deployment {self.deployment!r} is full")
        return reply.value

    async def stream(self, method: str, args: tuple = (), kwargs: dict | None = None, *,
                     kind: str = wire.CALL, model_id: str = "", request_id: str = "",
                     route: str = "", session_id: str = "",
                     feed: AsyncIterator[Any] | None = None) -> AsyncIterator[Any]:
        """Send one request and yield the values of its ``CHUNK`` frames (a ``RESULT``
        frame is yielded as one last value).

        With ``feed`` the request is duplex: while it runs, the items of ``feed`` go to
        the replica in :class:`~.wire.Feed` frames, each once the replica granted credit
        for it (``feed`` is not read before: a request the replica refuses leaves it
        untouched for the next replica), then ``DONE`` when it ends (``LEFT`` when it
        raises). A caller that stops iterating before the end sends ``LEFT``: the
        replica learns that its caller left.
        """
        writer = await self._connect()
        req_id = next(self._ids)
        queue: asyncio.Queue = asyncio.Queue()
        self._pending[req_id] = queue
        self._send(writer, req_id, wire.Call(req_id, method, args, kwargs or {}, kind, True, model_id,
                                             request_id, route, session_id, feed is not None))
        feeding = self._start_feed(writer, req_id, feed)
        ended = False
        try:
            while True:
                reply = await queue.get()
                if reply.kind == wire.CHUNK:
                    yield reply.value
                    continue
                ended = True
                if reply.kind == wire.RESULT:
                    yield reply.value
                    return
                elif reply.kind == wire.END:
                    return
                elif reply.kind == wire.REJECTED:
                    raise ReplicaRejectedError(f"replica {self.replica_id} of deployment {self.deployment!r} is full")
                else:
                    raise _as_exception(reply.value, f"{self.deployment}.{method}")
        finally:
            if self._pending.pop(req_id, None) is not None and feeding is None:
                self._cancel(writer, req_id)  # the caller left before the answer's end
            self._stop_feed(writer, req_id, feeding, answered=ended)

    def _cancel(self, writer: asyncio.StreamWriter, req_id: int) -> None:
        """Tell the replica that the caller no longer waits for request ``req_id``."""
        if self.alive and not writer.is_closing():
            writer.write(wire.encode(wire.Cancel(req_id)))

    def _start_feed(self, writer: asyncio.StreamWriter, req_id: int,
                    feed: AsyncIterator[Any] | None) -> asyncio.Task | None:
        """Start sending a duplex request's messages (None: not duplex)."""
        if feed is None:
            return None
        credit = self._credits[req_id] = Credit()
        return asyncio.get_running_loop().create_task(self._feed(writer, req_id, feed, credit))

    def _stop_feed(self, writer: asyncio.StreamWriter, req_id: int, feeding: asyncio.Task | None,
                   answered: bool) -> None:
        """Stop sending a duplex request's messages (if any); a caller that leaves before
        the replica ``answered`` it sends ``LEFT``."""
        if feeding is None:
            return
        self._credits.pop(req_id, None)
        feeding.cancel()
        if not answered and self.alive and not writer.is_closing():
            writer.write(wire.encode(wire.Feed(req_id, None, wire.LEFT)))

    async def _feed(self, writer: asyncio.StreamWriter, req_id: int, feed: AsyncIterator[Any],
                    credit: Credit) -> None:
        """Send the items of ``feed`` to the replica's request ``req_id`` while it runs,
        one per credit, then how the feed ended."""
        end = wire.DONE
        try:
            while True:
                await credit.take()
                try:
                    value = await feed.__anext__()
                except StopAsyncIteration:
                    break
                if req_id not in self._pending or writer.is_closing():
                    return
                writer.write(wire.encode(wire.Feed(req_id, value)))
        except Exception as exc:  # noqa: BLE001 - the caller's messages failed (its client reset): it left
            logger.debug("the request stream of %s.%s ended with %s: %s", self.deployment, req_id,
                         type(exc).__name__, exc)
            end = wire.LEFT
        if req_id in self._pending and not writer.is_closing():
            writer.write(wire.encode(wire.Feed(req_id, None, end)))

    def close(self) -> None:
        self.on_lost = None
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._writer is not None:
            self._writer.close()
        self.alive = False


def _as_exception(value: Any, function_name: str) -> BaseException:
    if isinstance(value, wire.RemoteError):
        return wire.remote_error(value, function_name)
    if isinstance(value, BaseException):
        return value
    return RuntimeError(f"{function_name} failed: {value!r}")


__all__ = ["CONNECT_TIMEOUT_S", "ReplicaConnection", "ReplicaRejectedError", "ReplicaUnreachableError"]
