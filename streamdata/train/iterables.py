"""Re-iterable views of a worker's dataset shard for frameworks that iterate their
training data once per epoch (Transformers, Lightning).

A shard's ``iter_batches`` / ``iter_torch_batches`` / ``iter_rows`` already return
:class:`~streamdata.iterator.Passes`, iterables that start a new pass at every
``iter()`` (as Ray's do). :func:`restartable` also accepts the shard itself (a
DataIterator: one pass of ``iter_torch_batches`` per ``iter()``); anything else is
returned unchanged.

Example:
    >>> import streamdata as sd
    >>> it = restartable(sd.range(4).iterator())
    >>> [len(list(it)), len(list(it))]
    [1, 1]
"""

from __future__ import annotations

from typing import Any

from streamdata.iterator import DataIterator, Passes


def restartable(data: Any, *, batch_size: int | None = 256) -> Any:
    """An iterable that starts a new pass at every ``iter()`` when ``data`` comes from a
    streamdata shard; other iterables are returned unchanged."""
    if isinstance(data, DataIterator):
        return data.iter_torch_batches(batch_size=batch_size)
    return data


def is_streamdata_iterable(data: Any) -> bool:
    """Whether ``data`` is a shard or one of its passes-iterables."""
    return isinstance(data, (Passes, DataIterator))


__all__ = ["is_streamdata_iterable", "restartable"]
