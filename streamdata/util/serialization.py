"""Custom serializers (Ray's ``ray.util.register_serializer``) for objects that do not pickle.

A serializer registered here is used whenever this process serializes an object
of that class (arguments, ``put``, results); the deserializer travels with the
data, so the processes that read it need nothing registered.

Example:
    >>> import threading
    >>> import streamdata as sd
    >>> class Guarded:
    ...     def __init__(self, value):
    ...         self.value = value
    ...         self.lock = threading.Lock()  # a lock does not pickle
    >>> register_serializer(Guarded, serializer=lambda g: g.value, deserializer=Guarded)
    >>> sd.get(sd.put(Guarded(7))).value
    7
    >>> deregister_serializer(Guarded)
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.core.serialization import deregister_reducer, register_reducer

__all__ = ["register_serializer", "deregister_serializer"]


def register_serializer(cls: type, *, serializer: Callable[[Any], Any], deserializer: Callable[[Any], Any]) -> None:
    """Serialize instances of ``cls`` as ``serializer(obj)``, rebuilt with ``deserializer(value)``.

    Args:
        cls: the class (exactly: subclasses are not included, as Ray's).
        serializer: ``obj -> value``; the value must be serializable.
        deserializer: ``value -> obj``.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_serializer(cls=...) expects a class, got {type(cls).__name__}")
    for name, fn in (("serializer", serializer), ("deserializer", deserializer)):
        if not callable(fn):
            raise TypeError(f"register_serializer({name}=...) must be callable, got {type(fn).__name__}")

    def reduce(obj: Any) -> tuple:
        return deserializer, (serializer(obj),)
    register_reducer(cls, reduce)


def deregister_serializer(cls: type) -> None:
    """Forget the serializer of ``cls`` (it pickles as usual again)."""
    if not isinstance(cls, type):
        raise TypeError(f"deregister_serializer(cls=...) expects a class, got {type(cls).__name__}")
    deregister_reducer(cls)
