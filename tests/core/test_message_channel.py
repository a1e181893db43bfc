"""The driver↔worker framing (no runtime): frames arrive whole and in order, one
send writes all of its frames, and the other end's close is an EOFError."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from streamdata.core.message_channel import MessageChannel, frame_header


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    left, right = MessageChannel(a), MessageChannel(b)
    yield left, right
    left.close()
    right.close()


def test_frames_arrive_whole_and_in_order(pair) -> None:
    left, right = pair
    left.send(b"one")
    left.send(b"", b"three")
    assert [bytes(right.recv()) for _ in range(3)] == [b"one", b"", b"three"]
    assert not right.poll()


def test_a_message_larger_than_the_socket_buffer_arrives_whole(pair) -> None:
    left, right = pair
    payload = bytes(range(256)) * 40_000  # ~10 MiB: sendall blocks until the reader drains it
    received: list = []
    reader = threading.Thread(target=lambda: received.append(bytes(right.recv())))
    reader.start()
    left.send(payload, b"after")
    reader.join(timeout=30)
    assert received == [payload]
    assert bytes(right.recv()) == b"after"


def test_poll_sees_a_waiting_message_and_the_close(pair) -> None:
    left, right = pair
    assert not right.poll(0.0)
    left.send(b"x")
    assert right.poll(0.0)
    right.recv()
    left.close()
    assert right.poll(0.0)  # readable: at its end
    with pytest.raises(EOFError):
        right.recv()


def test_a_close_in_the_middle_of_a_frame_is_an_eof(pair) -> None:
    left, right = pair
    left._sock.sendall(struct.pack("!i", 10) + b"12345")  # half a frame, then the writer is gone
    left.close()
    with pytest.raises(EOFError):
        right.recv()


def test_a_corrupt_header_is_an_oserror_the_reader_treats_as_a_closed_channel(pair) -> None:
    left, right = pair
    left._sock.sendall(struct.pack("!i", -7))
    with pytest.raises(OSError, match="corrupt"):
        right.recv()


def test_header_of_a_payload_over_2_gib_carries_the_long_length() -> None:
    assert frame_header(5) == struct.pack("!i", 5)
    assert frame_header(2**31) == struct.pack("!i", -1) + struct.pack("!Q", 2**31)
