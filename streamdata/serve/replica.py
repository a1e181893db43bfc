"""The replica actor: one instance of the deployment's class, serving requests on
an asyncio loop (an async actor, so one replica runs many requests at once and
``@serve.batch`` can gather them).

Example:
    >>> import asyncio
    >>> class Doubler:
    ...     async def __call__(self, x):
    ...         return 2 * x
    >>> r = Replica(Doubler, (), {}, "app", "Doubler", "Doubler#0")
    >>> asyncio.run(r.handle_request("__call__", (21,), {}))
    42
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable

from streamdata.serve.batching import batch_size_counts


class _FunctionDeployment:
    """A function deployment as a class: ``__call__`` calls the function."""

    def __init__(self, fn: Callable) -> None:
        self._fn = fn

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


class Replica:
    """Hosts the user's object; the router calls :meth:`handle_request`."""

    def __init__(self, target: Callable, init_args: tuple, init_kwargs: dict, app_name: str,
                 deployment_name: str, replica_id: str) -> None:
        self._app_name = app_name
        self._deployment_name = deployment_name
        self._replica_id = replica_id
        if inspect.isclass(target):
            self._obj = target(*init_args, **init_kwargs)
        else:
            self._obj = _FunctionDeployment(target)

    async def handle_request(self, method: str, args: tuple, kwargs: dict) -> Any:
        """Call ``method`` of the user's object (awaiting it when it is async)."""
        fn = getattr(self._obj, method, None)
        if fn is None or not callable(fn):
            raise AttributeError(f"deployment {self._deployment_name!r} has no method {method!r}")
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def ready(self) -> dict[str, Any]:
        """Answers once the constructor ran: the replica's id and process."""
        return {"replica_id": self._replica_id, "pid": os.getpid()}

    async def stats(self) -> dict[str, dict[int, int]]:
        """Batch sizes the ``@serve.batch`` functions of this replica ran."""
        return batch_size_counts()

    async def check_health(self) -> bool:
        """The user's ``check_health()`` when defined (it raises when unhealthy)."""
        user_check = getattr(self._obj, "check_health", None)
        if callable(user_check):
            result = user_check()
            if inspect.isawaitable(result):
                await result
        return True


__all__ = ["Replica"]
