"""Re-iterable views of a worker's dataset shard for frameworks that iterate their
training data once per epoch (Transformers, Lightning).

Ray's ``iter_torch_batches`` returns an iterable that starts a new pass over the
shard at every ``iter()``. :func:`restartable` gives the same from what a loop
passes in: a DataIterator (one pass of ``iter_torch_batches`` per ``iter()``), a
generator made by a DataIterator's ``iter_*`` method (called again with the same
arguments for every pass), or any other iterable (used as is).

Example:
    >>> import streamdata as sd
    >>> gen = sd.range(4).iterator().iter_batches(batch_size=2)
    >>> it = restartable(gen)
    >>> [len(list(it)), len(list(it))]
    [2, 2]
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator

_METHODS = ("iter_torch_batches", "iter_batches", "iter_rows")


class ShardIterable:
    """An iterable whose every ``iter()`` is a new pass made by ``make()``."""

    def __init__(self, make: Callable[[], Iterator[Any]], description: str) -> None:
        self._make = make
        self._description = description

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())

    def __repr__(self) -> str:
        return f"ShardIterable({self._description})"


def _remakers() -> dict[Any, Callable[[dict[str, Any]], Iterator[Any]]]:
    """Code object of each generator function a DataIterator's ``iter_*`` returns →
    how to make a new one from the first one's arguments."""
    from streamdata import iterator as it_mod

    out: dict[Any, Callable[[dict[str, Any]], Iterator[Any]]] = {}
    for name in _METHODS:
        fn = getattr(it_mod.DataIterator, name)
        if inspect.isgeneratorfunction(fn):
            params = [p for p in inspect.signature(fn).parameters if p != "self"]
            out[fn.__code__] = (lambda n, ps: lambda loc: getattr(loc["self"], n)(
                **{p: loc[p] for p in ps if p in loc}))(name, params)
    prefetched = getattr(it_mod, "_prefetched", None)
    if prefetched is not None and inspect.isgeneratorfunction(prefetched):
        params = list(inspect.signature(prefetched).parameters)
        out[prefetched.__code__] = lambda loc: prefetched(*[loc[p] for p in params])
    return out


def _from_generator(gen: Any) -> ShardIterable | None:
    """Rebuild the call that made ``gen`` when a DataIterator method made it and it
    has not started (its frame still holds the arguments)."""
    frame = getattr(gen, "gi_frame", None)
    if frame is None or inspect.getgeneratorstate(gen) != inspect.GEN_CREATED:
        return None
    remake = _remakers().get(gen.gi_code)
    if remake is None:
        return None
    local = dict(frame.f_locals)
    first = [gen]  # the first pass uses the generator the loop made

    def make() -> Iterator[Any]:
        return first.pop() if first else remake(local)

    return ShardIterable(make, gen.gi_code.co_name)


def restartable(data: Any, *, batch_size: int | None = 256) -> Any:
    """An iterable that starts a new pass at every ``iter()`` when ``data`` comes from a
    streamdata shard; other iterables are returned unchanged."""
    from streamdata.iterator import DataIterator

    if isinstance(data, DataIterator):
        return ShardIterable(lambda: data.iter_torch_batches(batch_size=batch_size), "iter_torch_batches")
    if inspect.isgenerator(data):
        rebuilt = _from_generator(data)
        if rebuilt is not None:
            return rebuilt
    return data


def is_streamdata_iterable(data: Any) -> bool:
    """Whether ``data`` is a shard iterable (already wrapped, a DataIterator, or a
    generator a DataIterator method made)."""
    from streamdata.iterator import DataIterator

    if isinstance(data, (ShardIterable, DataIterator)):
        return True
    return inspect.isgenerator(data) and data.gi_code in _remakers()


__all__ = ["ShardIterable", "is_streamdata_iterable", "restartable"]
