"""Where a running task's cancellation may raise, and where it must wait.

A worker cancels a running task by raising TaskCancelledError in the thread that runs
it: from a signal handler in the main thread, as an asynchronous exception in a pool
thread. Such an exception lands wherever that thread happens to be, so three kinds of
code are fenced off:

- :func:`uninterruptible` functions: the runtime's own protocol work (sending a
  message, storing and reporting an item or a task's end). Half done, it would leave
  an object unreported or a task reported twice. A cancellation that arrives inside
  one is recorded with :func:`defer` and delivered again as the outermost such call
  returns: the task's own code meets it at its next step.
- :func:`bookkeeping` functions: their own frame (not what they call) runs the
  worker's accounting around the user's code; an exception there would escape it.
  That includes the frame an uninterruptible call returns to, when a deferred
  cancellation is delivered as it returns (through a :func:`redelivery` function).
- the import machinery: an import cut short leaves a half-initialized module behind.

Example:
    >>> import sys
    >>> @uninterruptible
    ... def report():
    ...     return may_interrupt(sys._getframe()), may_interrupt_here(sys._getframe())
    >>> report(), may_interrupt_here(sys._getframe())
    ((False, False), True)
"""
from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_local = threading.local()  # .depth: how many uninterruptible calls this thread is inside
_deferred: dict[int, Callable[[], None]] = {}  # thread ident -> how to deliver its cancellation again
_deferred_lock = threading.Lock()
_bookkeeping_codes: set[CodeType] = set()
_redelivery_codes: set[CodeType] = set()


def uninterruptible(fn: F) -> F:
    """Mark ``fn`` as code a cancellation must not interrupt (see the module's text)."""
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            return fn(*args, **kwargs)
        finally:
            _local.depth -= 1
            if not _local.depth:
                with _deferred_lock:
                    redeliver = _deferred.pop(threading.get_ident(), None)
                if redeliver is not None:
                    redeliver()
    return guarded  # type: ignore[return-value]


_GUARD_CODE = uninterruptible(lambda: None).__code__  # every guarded call runs this code


def bookkeeping(fn: F) -> F:
    """Mark ``fn``'s own frame as one a cancellation must not raise in."""
    _bookkeeping_codes.add(fn.__code__)
    return fn


def redelivery(fn: F) -> F:
    """Mark ``fn`` as what delivers a deferred cancellation again (the ``redeliver``
    given to :func:`defer`): an exception raised in it surfaces in the code that made
    the uninterruptible call, which is judged instead."""
    _redelivery_codes.add(fn.__code__)
    return fn


def may_interrupt(frame: FrameType | None) -> bool:
    """Whether a cancellation may raise in the code that ``frame``, another thread's
    innermost frame, runs now."""
    return _may_interrupt(frame, passing=_redelivery_codes, guarded=lambda code: code is _GUARD_CODE)


def may_interrupt_here(frame: FrameType | None) -> bool:
    """:func:`may_interrupt` for the calling thread's own ``frame`` (a signal
    handler's). Its uninterruptible calls are counted exactly: one that is returning
    (delivering a deferred cancellation) no longer counts."""
    return not inside_uninterruptible_here() and _may_interrupt(
        frame, passing=_redelivery_codes | {_GUARD_CODE}, guarded=lambda code: False)


def inside_uninterruptible_here() -> bool:
    """Whether the calling thread is inside an :func:`uninterruptible` call (a
    cancellation :func:`defer`-ed now is delivered again as it returns)."""
    return bool(getattr(_local, "depth", 0))


def _may_interrupt(frame: FrameType | None, passing: set[CodeType], guarded: Callable[[CodeType], bool]) -> bool:
    while frame is not None and frame.f_code in passing:  # the exception would go through these
        frame = frame.f_back
    if frame is not None and frame.f_code in _bookkeeping_codes:
        return False
    while frame is not None:
        code = frame.f_code
        if guarded(code) or code.co_filename.startswith("<frozen importlib"):
            return False
        frame = frame.f_back
    return True


def defer(ident: int, redeliver: Callable[[], None]) -> None:
    """Call ``redeliver`` in thread ``ident`` as its outermost uninterruptible call
    returns (the thread must be inside one: see :func:`inside_uninterruptible_here`)."""
    with _deferred_lock:
        _deferred[ident] = redeliver


def raise_in_thread(ident: int, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in thread ``ident`` at its next step of Python code."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))


__all__ = ["bookkeeping", "defer", "inside_uninterruptible_here", "may_interrupt", "may_interrupt_here",
           "raise_in_thread", "redelivery", "uninterruptible"]
