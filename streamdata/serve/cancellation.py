"""Request cancellation: what a request's cancel reaches, as Ray Serve does it.

``response.cancel()`` on a caller's ``DeploymentResponse`` (or its
``DeploymentResponseGenerator``), an HTTP client that disconnects before its
response is complete, a gRPC client that cancels or a proxy's
``request_timeout_s`` all end the same way: a request still waiting for a replica
slot never runs; one sent to a replica is cancelled there with a ``Cancel`` frame
on the caller's connection (:mod:`.wire`), and the replica cancels the task running
it, so ``asyncio.CancelledError`` is raised inside the deployment's async method
(its ``except asyncio.CancelledError`` and ``finally`` run, ``asyncio.shield`` keeps
what it shields going). A synchronous (``def``) method cannot be interrupted: it runs
to completion and its answer is dropped. The caller's ``.result()``, ``await`` or
iteration raises :class:`~streamdata.errors.RequestCancelledError`.

A request cancelled in a replica cancels its child requests (the handle calls its
code made and that have not answered): each request's :class:`RequestScope` keeps
them.

Example:
    >>> import asyncio
    >>> async def demo():
    ...     scope = RequestScope()
    ...     child = asyncio.ensure_future(asyncio.sleep(60))
    ...     scope.adopt(child, child)
    ...     scope.cancel_children()
    ...     await asyncio.sleep(0)
    ...     return child.cancelled()
    >>> asyncio.run(demo())
    True
    >>> str(cancelled_error("r1"))
    'Request r1 was cancelled.'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Protocol

from streamdata.errors import RequestCancelledError


class Cancellable(Protocol):
    """What a request scope cancels: a response (``DeploymentResponse``,
    ``DeploymentResponseGenerator``) or a future."""

    def cancel(self) -> Any: ...


def cancelled_error(request_id: str = "") -> RequestCancelledError:
    """The error a cancelled request's caller gets (Ray's message)."""
    return RequestCancelledError(f"Request {request_id} was cancelled." if request_id else "Request was cancelled.")


class RequestScope:
    """One request served by a replica: the task running it (``task``) and the child
    requests its code made that have not answered yet."""

    __slots__ = ("task", "_children")

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self._children: set[Cancellable] | None = None  # made on first use: most requests have none

    def adopt(self, child: Cancellable, future: asyncio.Future | concurrent.futures.Future | None = None) -> None:
        """Keep ``child`` until it answers (``future`` done; without one, until :meth:`release`)."""
        if self._children is None:
            self._children = set()
        self._children.add(child)
        if future is not None:
            future.add_done_callback(lambda _: self.release(child))

    def release(self, child: Cancellable) -> None:
        """``child`` answered: nothing to cancel there any more."""
        if self._children is not None:
            self._children.discard(child)

    def cancel_children(self) -> None:
        """Cancel every child request that has not answered."""
        children, self._children = self._children, None
        for child in list(children or ()):
            child.cancel()


def uncancel(task: asyncio.Task | None) -> bool:
    """Take back one ``task.cancel()`` this code made (Python 3.11+ counts them); True when
    no other cancellation of ``task`` is pending (the CancelledError may be turned into
    an answer)."""
    undo = getattr(task, "uncancel", None)
    return undo is None or undo() == 0


__all__ = ["Cancellable", "RequestScope", "cancelled_error", "uncancel"]
