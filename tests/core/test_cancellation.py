"""Where a cancellation may raise (no runtime): uninterruptible calls defer it until the
outermost one returns, a bookkeeping function's own frame is fenced off but not what
it calls, and a pool thread gets the exception at its next step."""

from __future__ import annotations

import sys
import threading

import pytest

from streamdata.core import cancellation


def test_a_deferred_cancellation_is_delivered_once_as_the_outermost_guard_returns() -> None:
    delivered: list[str] = []

    @cancellation.uninterruptible
    def inner() -> None:
        cancellation.defer(threading.get_ident(), lambda: delivered.append("again"))

    @cancellation.uninterruptible
    def outer() -> None:
        inner()
        assert delivered == []  # the inner guard returned: still inside the outer one
        assert cancellation.inside_uninterruptible_here()

    outer()
    assert delivered == ["again"]
    assert not cancellation.inside_uninterruptible_here()


def test_a_guard_counts_in_its_own_thread_and_in_frames_seen_from_another() -> None:
    seen: dict[str, bool] = {}
    inside, release = threading.Event(), threading.Event()

    @cancellation.uninterruptible
    def guarded() -> None:
        seen["here"] = cancellation.may_interrupt_here(sys._getframe())
        inside.set()
        release.wait(10)

    worker = threading.Thread(target=guarded)
    worker.start()
    assert inside.wait(10)
    seen["from outside"] = cancellation.may_interrupt(sys._current_frames()[worker.ident])
    release.set()
    worker.join()
    assert seen == {"here": False, "from outside": False}
    assert cancellation.may_interrupt_here(sys._getframe())


def test_a_bookkeeping_frame_is_fenced_off_but_not_what_it_calls() -> None:
    frames: dict[str, bool] = {}

    def users_code() -> None:
        frames["callee"] = cancellation.may_interrupt_here(sys._getframe())

    @cancellation.bookkeeping
    def accounting() -> None:
        frames["own"] = cancellation.may_interrupt_here(sys._getframe())
        users_code()

    accounting()
    assert frames == {"own": False, "callee": True}


class _Stop(Exception):
    pass


def test_raise_in_thread_reaches_a_running_loop() -> None:
    started, outcome = threading.Event(), []

    def spin() -> None:
        started.set()
        try:
            while True:
                pass
        except _Stop:
            outcome.append("stopped")

    thread = threading.Thread(target=spin)
    thread.start()
    assert started.wait(10)
    cancellation.raise_in_thread(thread.ident, _Stop)
    thread.join(10)
    assert outcome == ["stopped"]


def test_a_guard_passes_the_result_and_the_error_through() -> None:
    @cancellation.uninterruptible
    def divide(a: int, b: int) -> float:
        return a / b

    assert divide(6, 3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    assert not cancellation.inside_uninterruptible_here()


def test_a_cancellation_delivered_as_a_guard_returns_is_judged_where_it_would_surface() -> None:
    """Raised by the redelivery, the error surfaces in the guarded call's caller: fine in
    the task's own code, not in a bookkeeping frame (it would escape the accounting)."""
    verdicts: list[bool] = []

    @cancellation.redelivery
    def redeliver() -> None:
        verdicts.append(cancellation.may_interrupt_here(sys._getframe()))

    @cancellation.uninterruptible
    def send() -> None:
        cancellation.defer(threading.get_ident(), redeliver)

    def users_code() -> None:
        send()

    @cancellation.bookkeeping
    def accounting() -> None:
        send()

    users_code()
    accounting()
    assert verdicts == [True, False]
