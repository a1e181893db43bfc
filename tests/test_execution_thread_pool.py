"""The driver's shared pool of threads (streamdata.execution.thread_pool)."""

from __future__ import annotations

import os
import threading

from streamdata.execution.thread_pool import shared_thread_pool


def test_a_submission_never_waits_behind_busy_threads():
    release = threading.Event()
    waiting = shared_thread_pool().submit(release.wait, 30)
    # with a bounded pool whose threads are all waiting, this would never start
    shared_thread_pool().submit(release.set).result(timeout=30)
    assert waiting.result(timeout=30) is True


def test_idle_threads_are_reused():
    pool = shared_thread_pool()
    pool.submit(int).result()
    names = {pool.submit(lambda: threading.current_thread().name).result() for _ in range(20)}
    assert all(name.startswith("streamdata-driver") for name in names)
    live = [t for t in threading.enumerate() if t.name.startswith("streamdata-driver")]
    assert len(live) < 20


def test_a_forked_child_makes_its_own_pool():
    shared_thread_pool().submit(int).result()  # the parent's pool has an idle thread
    pid = os.fork()
    if pid == 0:  # the parent's threads do not exist here: a pool that kept them would hang
        try:
            code = 0 if shared_thread_pool().submit(sum, [1, 2]).result(timeout=20) == 3 else 1
        except BaseException:  # noqa: BLE001 - any failure is the child's exit code
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
