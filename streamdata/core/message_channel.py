"""The driver↔worker socket: length-prefixed messages that are never cut in half.

A task's cancellation raises an exception in the thread that runs it (a signal handler
in a worker's main thread, an asynchronous exception in a pool thread), and Ctrl-C
raises one in a driver's main thread. Were a message written by a loop of writes in
Python, that exception could land between two of them and leave half a message on the
socket: the reader then takes the next message's bytes for the rest of this one and
waits forever. So :meth:`MessageChannel.send` writes all its frames with one call into
C (``socket.sendall``), which such an exception cannot interrupt halfway: a frame is on
the wire whole or not at all. (A signal handler that runs inside ``sendall`` itself must
not raise: the worker's cancellation handler defers while a send is under way.)

A frame is a 4-byte big-endian length and the payload; a payload of 2 GiB or more
has length -1 followed by its 8-byte length.

Example:
    >>> import socket
    >>> a, b = socket.socketpair()
    >>> left, right = MessageChannel(a), MessageChannel(b)
    >>> left.send(b"hello", b"world")
    >>> bytes(right.recv()), bytes(right.recv()), right.poll()
    (b'hello', b'world', False)
    >>> left.close(); right.close()
"""
from __future__ import annotations

import select
import socket
import struct

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")
_MAX_SHORT = 0x7FFFFFFF


def frame_header(size: int) -> bytes:
    """The bytes that precede a payload of ``size`` bytes."""
    if size <= _MAX_SHORT:
        return _LENGTH.pack(size)
    return _LENGTH.pack(-1) + _LONG_LENGTH.pack(size)


class MessageChannel:
    """Framed messages over a connected stream socket (this object owns it).

    ``send`` may be called from several threads only under the caller's own lock;
    ``recv`` from one thread.
    """

    __slots__ = ("_sock", "_poller")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self._sock = sock
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, *payloads: bytes) -> None:
        """Write each payload as one frame, all in one ``sendall``."""
        parts: list = []
        for payload in payloads:
            parts.append(frame_header(len(payload)))
            parts.append(payload)
        self._sock.sendall(b"".join(parts))

    def recv(self) -> bytearray:
        """The next message's payload; EOFError once the other end closed, OSError for a
        header no sender writes (the channel is unusable: treat it as closed)."""
        (size,) = _LENGTH.unpack(self._read_exactly(4))
        if size == -1:
            (size,) = _LONG_LENGTH.unpack(self._read_exactly(8))
        elif size < 0:
            raise OSError(f"corrupt message header on the channel (length {size})")
        return self._read_exactly(size)

    def poll(self, timeout_s: float = 0.0) -> bool:
        """Whether bytes are waiting to be read (or the other end closed)."""
        return bool(self._poller.poll(timeout_s * 1000))

    def close(self) -> None:
        self._sock.close()

    def _read_exactly(self, size: int) -> bytearray:
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = self._sock.recv_into(view[got:])
            if n == 0:
                raise EOFError("the other end of the channel closed")
            got += n
        view.release()
        return buf


__all__ = ["MessageChannel", "frame_header"]
