"""Duplex requests: the caller's messages to a replica while its request runs (a
WebSocket's client messages, a gRPC client- or bidi-streaming call's requests),
sent on the caller's replica connection as :class:`~.wire.Feed` frames.

The caller (:meth:`.channel.ReplicaConnection.stream` with ``feed=``) sends the
call with ``Call.feed`` set, then the messages of its ``feed`` iterator, then
``DONE`` when the iterator ends (or ``LEFT`` when it fails); ``LEFT`` also when the
caller stops waiting for the answer (its client left, a timeout). The replica
puts them in the request's :class:`RequestInbox`, which the method reads (through
a ``gRPCInputStream`` or a WebSocket's ASGI ``receive``).

Flow control is credit-based: the caller sends a message only while it holds
credit (:class:`Credit`). The replica grants ``REQUEST_STREAM_WINDOW`` messages when
it takes the request (a request it refuses gets none, so nothing is lost when the
router sends it elsewhere), then one more for each message the method took
(``CREDIT`` replies, grouped per turn of its event loop). At most that many
messages wait in a replica for a method that reads slowly; the rest wait in the
caller's client connection, which slows the client as a server of its own would.

Example:
    >>> import asyncio
    >>> from streamdata.serve import wire
    >>> async def demo():
    ...     credit = Credit()
    ...     inbox = RequestInbox(grant=credit.grant, window=2)  # the replica takes the request
    ...     for value in ("a", "b"):
    ...         await credit.take()              # the caller: one message per credit
    ...         inbox.feed(wire.Feed(1, value))
    ...     spent = credit.available
    ...     got = [await anext(inbox), await anext(inbox)]  # the method reads them
    ...     await asyncio.sleep(0)               # the replica's loop turns: the credit goes back
    ...     return spent, got, credit.available
    >>> asyncio.run(demo())
    (0, ['a', 'b'], 2)
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable

from streamdata.serve import wire

#: how many messages of a request stream a replica takes before the method has read them
REQUEST_STREAM_WINDOW = 16


class RequestStreamCancelled(StopAsyncIteration):
    """Raised by a request stream whose caller left (the client cancelled, or the call
    ended: its deadline, ``request_timeout_s``); a ``gRPCInputStream`` reading it ends
    and reports ``is_cancelled()``."""


class Credit:
    """The caller's end of the flow control: how many more messages it may send.

    Example:
        >>> async def demo():
        ...     credit = Credit()
        ...     credit.grant(1)
        ...     await credit.take()
        ...     return credit.available
        >>> asyncio.run(demo())
        0
    """

    def __init__(self) -> None:
        self.available = 0  # none until the replica takes the request
        self._granted = asyncio.Event()

    def grant(self, count: int) -> None:
        """The replica may take ``count`` more messages."""
        self.available += count
        self._granted.set()

    async def take(self) -> None:
        """Wait for one credit and use it."""
        while self.available <= 0:
            self._granted.clear()
            await self._granted.wait()
        self.available -= 1


class RequestInbox:
    """The replica's end of one request stream: an async iterator of the caller's
    messages in order; it ends at ``DONE`` and raises :class:`RequestStreamCancelled`
    at ``LEFT`` (after the messages that came before). ``grant(n)`` (None: no flow
    control) gives the caller credit: ``window`` at once, then one per message taken.

    Example:
        >>> inbox = RequestInbox()
        >>> inbox.feed(wire.Feed(7, "hi"))
        >>> inbox.leave()  # the caller's connection dropped
        >>> inbox.finished, len(inbox)
        (True, 1)
    """

    def __init__(self, grant: Callable[[int], None] | None = None, window: int = REQUEST_STREAM_WINDOW) -> None:
        self._messages: collections.deque[Any] = collections.deque()
        self._arrived = asyncio.Event()
        self._end: int | None = None  # wire.DONE or wire.LEFT once the caller sends no more
        self._grant = grant
        self._taken = 0  # messages taken and not yet granted back
        if grant is not None:
            grant(window)

    @property
    def finished(self) -> bool:
        """Whether the caller sends no more (its stream ended, or it left)."""
        return self._end is not None

    @property
    def cancelled(self) -> bool:
        """Whether the caller left."""
        return self._end == wire.LEFT

    def __len__(self) -> int:
        """How many messages arrived and wait to be read."""
        return len(self._messages)

    def feed(self, frame: wire.Feed) -> None:
        """What the caller sent (dropped once it sends no more)."""
        if self._end is not None:
            return
        if frame.kind == wire.MESSAGE:
            self._messages.append(frame.value)
        else:
            self._end = frame.kind
        self._arrived.set()

    def leave(self) -> None:
        """The caller is gone (its connection dropped)."""
        self.feed(wire.Feed(0, None, wire.LEFT))

    def __aiter__(self) -> RequestInbox:
        return self

    async def __anext__(self) -> Any:
        while not self._messages:
            if self._end == wire.LEFT:
                raise RequestStreamCancelled("the caller left: the request stream is cancelled")
            if self._end is not None:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        value = self._messages.popleft()
        if self._grant is not None:
            self._taken += 1
            if self._taken == 1:  # grant once the reader lets the loop turn, for all it took by then
                asyncio.get_running_loop().call_soon(self._grant_taken)
        return value

    def _grant_taken(self) -> None:
        count, self._taken = self._taken, 0
        if count and self._end is None and self._grant is not None:
            self._grant(count)

    def __reduce__(self) -> Any:
        raise TypeError("a request stream is read in the replica that received it; it cannot be sent elsewhere")

    def __repr__(self) -> str:
        return f"RequestInbox(waiting={len(self._messages)}, finished={self.finished})"


__all__ = ["REQUEST_STREAM_WINDOW", "Credit", "RequestInbox", "RequestStreamCancelled"]
