"""Length-bucketed batches (``iter_bucket_batches``): rows of similar length together, each
batch's total length at most ``max_tokens``, so padded sequence batches waste little.

The rule, applied to each window of ``buffer_size`` rows as it streams in: ``length_fn`` is
called once per row; the window's rows are ordered by length (ties keep their order) and cut
greedily into batches whose lengths add up to at most ``max_tokens``. A row longer than
``max_tokens`` on its own is an error, not a batch that breaks the budget.

Example:
    >>> pack_by_length([1, 2, 1, 4, 3, 1, 2, 2, 3], max_tokens=5)
    [[0, 2, 5, 1], [6, 7], [4], [8], [3]]
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from streamdata import block as B
from streamdata.batch_stream import formatter_for
from streamdata.exec.operators.all_to_all.policy import group_by_size


def validate_bucket_batching(max_tokens: Any, buffer_size: Any, length_fn: Any) -> None:
    """Raise for a budget or window that is not a positive int, or a ``length_fn`` that is not callable."""
    for name, value in (("max_tokens", max_tokens), ("buffer_size", buffer_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"iter_bucket_batches {name} must be a positive integer, got {value!r}")
    if not callable(length_fn):
        raise TypeError(f"iter_bucket_batches length_fn must be callable (a row → its length), got {length_fn!r}")


def pack_by_length(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Row indices in batches: ordered by length (stable), cut where the next row would take a
    batch's total over ``max_tokens``.

    Example:
        >>> pack_by_length([0, 0, 3], max_tokens=3)
        [[0, 1, 2]]
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable").tolist()
    groups = group_by_size([lengths[i] for i in order], max_tokens)
    return [[order[position] for position in group] for group in groups]


def row_lengths(table: pa.Table, length_fn: Callable[[dict[str, Any]], Any], max_tokens: int) -> list[int]:
    """``length_fn`` of every row, each checked: a non-negative integer no larger than ``max_tokens``."""
    lengths = []
    for position, row in enumerate(B.iter_rows(table)):
        length = length_fn(row)
        if not isinstance(length, numbers.Integral) or isinstance(length, bool) or length < 0:
            raise ValueError(f"iter_bucket_batches length_fn returned {length!r} for row {position} of "
                             "its window; a length must be a non-negative integer")
        if length > max_tokens:
            raise ValueError(f"iter_bucket_batches: a row of length {int(length)} exceeds "
                             f"max_tokens={max_tokens} (row {position} of its window)")
        lengths.append(int(length))
    return lengths


def bucket_batches(window: pa.Table, max_tokens: int, length_fn: Callable[[dict[str, Any]], Any],
                   batch_format: str | None) -> Iterator[Any]:
    """The batches of one window of rows, in ``batch_format`` (the window's schema kept).

    Example:
        >>> t = pa.table({"text": ["aa", "a", "aaa"]})
        >>> [b["text"].tolist() for b in bucket_batches(t, 3, lambda r: len(r["text"]), "numpy")]
        [['a', 'aa'], ['aaa']]
    """
    formatter = formatter_for(batch_format, zero_copy=False)
    lengths = row_lengths(window, length_fn, max_tokens)
    for indices in pack_by_length(lengths, max_tokens):
        yield formatter.one(window.take(indices))
