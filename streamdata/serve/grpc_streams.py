"""The client's messages of a client-streaming or bidirectional-streaming gRPC call,
from the proxy to the replica that runs the method (Ray Serve's ``gRPCInputStream``).

The messages arrive at the proxy while the method already runs in a replica. For
each such call the proxy opens a session in :class:`RequestStreams` and sends the
replica a :class:`~streamdata.serve.grpc_util.gRPCInputStream` over a
:class:`ProxyRequestStream`: a picklable reference (the proxy's socket and the
session's secret token). When the method first iterates, the replica connects to
the proxy's Unix socket (an abstract one on Linux: no file to clean up), names the
session, and the proxy relays the client's messages as they come (``MESSAGE``
frames; the socket's buffers bound what is in flight), then ``END`` when the client
half-closes, or ``CANCELLED`` when the client cancelled or the call ended (its
deadline, ``request_timeout_s``): the method's stream then ends and
``is_cancelled()`` is True.

Example:
    >>> import asyncio
    >>> async def demo():
    ...     streams = RequestStreams()
    ...     await streams.start()
    ...     async def client():
    ...         for word in ("a", "b"):
    ...             yield word
    ...     token, remote = streams.open(client())
    ...     got = [m async for m in gRPCInputStream(remote)]
    ...     streams.close(token)
    ...     await streams.stop()
    ...     return got
    >>> asyncio.run(demo())
    ['a', 'b']
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import sys
import tempfile
from typing import Any, AsyncIterator

from streamdata.serve import wire
from streamdata.serve.grpc_util import RequestStreamCancelled, gRPCInputStream
from streamdata.serve.logs import logger

#: frame kinds of the relay: a client message, the client half-closed, the stream was cancelled
MESSAGE, END, CANCELLED = 0, 1, 2
#: how long a replica that connected may take to name its session
HELLO_TIMEOUT_S = 10.0


def _frame(kind: int, value: Any = None) -> bytes:
    data = wire.dumps((kind, value))
    return wire.HEADER.pack(len(data)) + data


async def _connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to ``path`` (connected first: uvloop's ``open_unix_connection`` takes no abstract address)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, path)
        return await asyncio.open_unix_connection(sock=sock, limit=2 ** 26)
    except BaseException:
        sock.close()
        raise


class ProxyRequestStream:
    """The replica's end of one session: an async iterator of the client's messages,
    read from the proxy on first use. Pickles as (socket path, token)."""

    def __init__(self, path: str, token: str) -> None:
        self.path = path
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ended = False

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "token": self.token}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["token"])  # type: ignore[misc]

    def __aiter__(self) -> ProxyRequestStream:
        return self

    async def __anext__(self) -> Any:
        """The next message; ``StopAsyncIteration`` at the client's end,
        :class:`RequestStreamCancelled` when the stream was cancelled or the proxy is gone."""
        if self._ended:
            raise StopAsyncIteration
        try:
            if self._reader is None:
                self._reader, self._writer = await _connect(self.path)
                self._writer.write(_frame(MESSAGE, self.token))
            kind, value = await wire.read_frame(self._reader)
        except (OSError, asyncio.IncompleteReadError, EOFError) as exc:
            self._end()
            raise RequestStreamCancelled(f"the proxy ended the request stream ({type(exc).__name__})") from None
        if kind == MESSAGE:
            return value
        self._end()
        if kind == CANCELLED:
            raise RequestStreamCancelled("the client cancelled the request stream")
        raise StopAsyncIteration

    def _end(self) -> None:
        self._ended = True
        if self._writer is not None:
            self._writer.close()

    def __repr__(self) -> str:
        return f"ProxyRequestStream(ended={self._ended})"


class _Session:
    __slots__ = ("messages", "relay")

    def __init__(self, messages: AsyncIterator[Any]) -> None:
        self.messages = messages
        self.relay: asyncio.Task | None = None  # the task relaying them, once the replica connected


def _socket_path() -> str:
    """A fresh socket address: abstract on Linux, else a file in a private directory."""
    if sys.platform.startswith("linux"):
        return f"\0streamdata-grpc-{os.getpid()}-{secrets.token_hex(8)}"
    return os.path.join(tempfile.mkdtemp(prefix="sd-grpc-"), "in.sock")


class RequestStreams:
    """The proxy's end: sessions of streamed requests, relayed on a Unix socket.
    Use it from one event loop (the gRPC server's: the client's messages are read there)."""

    def __init__(self) -> None:
        self.path = ""
        self._server: asyncio.AbstractServer | None = None
        self._sessions: dict[str, _Session] = {}

    async def start(self) -> None:
        self.path = _socket_path()
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=2 ** 26)

    async def stop(self) -> None:
        for token in list(self._sessions):
            self.close(token)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if not self.path.startswith("\0"):
            shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)

    def open(self, messages: AsyncIterator[Any]) -> tuple[str, gRPCInputStream]:
        """Open a session for the client's ``messages``: its token and the stream to send the replica."""
        token = secrets.token_hex(16)
        self._sessions[token] = _Session(messages)
        return token, gRPCInputStream(ProxyRequestStream(self.path, token))

    def close(self, token: str) -> None:
        """End a session (the call ended): a replica still reading sees ``CANCELLED``."""
        session = self._sessions.pop(token, None)
        if session is not None and session.relay is not None and not session.relay.done():
            session.relay.cancel()

    def __len__(self) -> int:
        return len(self._sessions)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, token = await asyncio.wait_for(wire.read_frame(reader), HELLO_TIMEOUT_S)
            session = self._sessions.get(token) if isinstance(token, str) else None
            if session is None or session.relay is not None:  # unknown, ended, or read already
                writer.write(_frame(CANCELLED))
                return
            session.relay = asyncio.current_task()
            await self._relay(session.messages, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, EOFError, asyncio.CancelledError):
            pass  # the replica went away, or the call ended (close): the replica was told CANCELLED
        finally:
            writer.close()

    @staticmethod
    async def _relay(messages: AsyncIterator[Any], writer: asyncio.StreamWriter) -> None:
        try:
            async for message in messages:
                writer.write(_frame(MESSAGE, message))
                await writer.drain()  # a replica that reads slowly slows the client (gRPC flow control)
        except asyncio.CancelledError:
            writer.write(_frame(CANCELLED))
            raise
        except (OSError, asyncio.IncompleteReadError):
            raise
        except Exception as exc:  # noqa: BLE001 - the client's side failed (cancelled, reset)
            logger.debug("a gRPC request stream ended with %s: %s", type(exc).__name__, exc)
            writer.write(_frame(CANCELLED))
            return
        writer.write(_frame(END))
        await writer.drain()


__all__ = ["CANCELLED", "END", "MESSAGE", "ProxyRequestStream", "RequestStreams"]
