"""Collate functions for ``iter_torch_batches(collate_fn=...)`` (Ray's ``ray.data.collate_fn``).

Subclass the one whose batch format you want to receive, and define ``__call__``: the iterator
hands an :class:`ArrowBatchCollateFn` a ``pyarrow.Table``, a :class:`NumpyBatchCollateFn` a dict
of ndarrays and a :class:`PandasBatchCollateFn` a ``pandas.DataFrame``; a plain function gets the
dict of ndarrays. What ``__call__`` returns is the batch the loop sees.

Example:
    >>> import torch
    >>> import streamdata as sd
    >>> from streamdata.collate_fn import NumpyBatchCollateFn
    >>> class Plus5(NumpyBatchCollateFn):
    ...     def __call__(self, batch):
    ...         return torch.as_tensor(batch["id"] + 5)
    >>> [b.tolist() for b in sd.range(4).iter_torch_batches(batch_size=2, collate_fn=Plus5())]
    [[5, 6], [7, 8]]
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .batch_stream import TorchFormatter

BatchT = TypeVar("BatchT")

__all__ = ["ArrowBatchCollateFn", "CollateFn", "DefaultCollateFn", "NumpyBatchCollateFn",
           "PandasBatchCollateFn", "batch_format_of"]


class CollateFn(Generic[BatchT]):
    """A callable that turns one batch (of the format its subclass names) into the training batch."""

    def __call__(self, batch: BatchT) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, batch)")


class ArrowBatchCollateFn(CollateFn[Any]):
    """Receives each batch as a ``pyarrow.Table``."""


class NumpyBatchCollateFn(CollateFn[Any]):
    """Receives each batch as a dict of column name -> ``numpy.ndarray``."""


class PandasBatchCollateFn(CollateFn[Any]):
    """Receives each batch as a ``pandas.DataFrame``."""


class DefaultCollateFn(ArrowBatchCollateFn):
    """What ``iter_torch_batches`` does without a ``collate_fn``: each column a ``torch.Tensor``
    (``dtypes``: one torch dtype, or a dict column -> dtype); string columns stay ndarrays."""

    def __init__(self, dtypes: Any = None, combine_chunks: bool = False, num_workers: int = 0) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DefaultCollateFn num_workers must be an int >= 0, got {num_workers!r}")
        self.dtypes = dtypes
        self.combine_chunks = combine_chunks
        self.num_workers = num_workers

    def __call__(self, batch: Any) -> dict[str, Any]:
        import torch

        return TorchFormatter(torch, self.dtypes, torch.device("cpu")).one(batch)


def batch_format_of(collate_fn: Any) -> str:
    """The batch format ``collate_fn`` receives: ``"pyarrow"``, ``"pandas"`` or ``"numpy"``.

    Raises:
        ValueError: ``collate_fn`` is not callable.
    """
    if isinstance(collate_fn, ArrowBatchCollateFn):
        return "pyarrow"
    if isinstance(collate_fn, PandasBatchCollateFn):
        return "pandas"
    if not callable(collate_fn):
        raise ValueError(f"iter_torch_batches collate_fn must be callable (a CollateFn or a function), "
                         f"got {type(collate_fn).__name__}")
    return "numpy"
