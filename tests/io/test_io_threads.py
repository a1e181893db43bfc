"""The shared I/O threads: order, errors, and a forked child making its own pool."""

from __future__ import annotations

import os
import threading

import pytest

from streamdata.io.io_threads import io_map


def test_results_keep_the_items_order_and_run_on_pool_threads():
    names = io_map(lambda i: (i, threading.current_thread().name), range(20))
    assert [i for i, _ in names] == list(range(20))
    assert all(n.startswith("streamdata-io") for _, n in names)


def test_not_concurrent_runs_on_the_calling_thread():
    me = threading.current_thread().name
    assert io_map(lambda _: threading.current_thread().name, [1, 2, 3], concurrent=False) == [me] * 3


def test_the_first_error_is_raised():
    def fail_on_three(i: int) -> int:
        if i == 3:
            raise FileNotFoundError(f"part-{i}")
        return i

    with pytest.raises(FileNotFoundError, match="part-3"):
        io_map(fail_on_three, range(8))


def test_a_forked_child_makes_its_own_pool():
    io_map(abs, [-1, -2])  # the parent's pool exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        ok = io_map(abs, [-1, -2, -3]) == [1, 2, 3]
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
