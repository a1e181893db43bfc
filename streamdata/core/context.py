"""Who answers the runtime API in this process: the active client and backend.

The driver's :class:`~streamdata.core.runtime.Runtime` or a worker's
:class:`~streamdata.core.worker.WorkerClient` is this process's *client* (it
submits tasks and reads objects); the *backend*
(:class:`~streamdata.core.backend.Backend`) is what :mod:`streamdata.core.api`
delegates to. Modules below the API (actors, remote functions, placement
groups, object refs) reach them here, never by importing the API module; the
API installs the function that starts or picks them on first use
(:func:`install`), so no import goes back up.

Example:
    >>> from streamdata.core import context
    >>> context.get_client() is None or hasattr(context.get_client(), "submit")
    True
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.core.backend import Backend

#: this process's client: a ClientBase (the driver's Runtime or a worker's WorkerClient)
_client: Any = None
_choose_backend: Callable[[], Backend] | None = None


def set_client(client: Any) -> None:
    """Make ``client`` this process's runtime client (None: no runtime)."""
    global _client
    _client = client


def get_client() -> Any:
    """This process's runtime client, or None when no runtime is started."""
    return _client


def install(choose_backend: Callable[[], Backend]) -> None:
    """Set the function that returns the active backend, starting the runtime if needed."""
    global _choose_backend
    _choose_backend = choose_backend


def current_backend() -> Backend:
    """The active backend (the local runtime starts implicitly on first use)."""
    if _choose_backend is None:
        raise RuntimeError("streamdata's runtime API is not loaded; import streamdata first")
    return _choose_backend()


def current_client() -> Any:
    """This process's runtime client, starting the local runtime if none is active."""
    client = _client
    if client is None:
        current_backend()
        client = _client
    if client is None:
        raise RuntimeError("no local runtime client is active (is the Ray backend in use?)")
    return client
