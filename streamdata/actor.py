"""Ray's ``ray.actor`` module: the actor classes and handles, ``method``, and
``exit_actor()``.

``exit_actor()`` ends the actor whose code calls it, as Ray's does: the actor is not
restarted (whatever its ``max_restarts``), its atexit handlers run, and the call that
exited, with every call queued after it, fails with
:class:`~streamdata.errors.ActorDiedError` saying it exited itself. Outside an actor it
raises ``TypeError``. ``sd.kill(handle)`` ends an actor from outside.

Example:
    >>> import streamdata as sd
    >>> from streamdata.actor import ActorHandle, exit_actor
    >>> @sd.remote
    ... class Worker:
    ...     def stop(self):
    ...         exit_actor()
    >>> worker: ActorHandle = Worker.remote()
    >>> try:
    ...     sd.get(worker.stop.remote())
    ... except sd.exceptions.RayActorError as err:
    ...     print("exited itself" in str(err))
    True
"""

from __future__ import annotations

from streamdata.core.actor import ActorClass, ActorHandle, ActorMethod, ActorProxy, method


def exit_actor() -> None:
    """End the actor whose code calls it (see the module docstring); never returns.

    Raises:
        TypeError: called outside an actor.
    """
    from streamdata.core.api import _active

    _active().exit_actor()


__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "ActorProxy", "exit_actor", "method"]
