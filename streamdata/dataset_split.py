"""Splitting a Dataset: ``split``, ``split_at_indices``, ``split_proportionately``,
``train_test_split`` (materialized pieces) and ``streaming_split`` (iterators over one
execution).

:class:`SplitMixin` is part of :class:`~streamdata.dataset.Dataset`. The pieces share
whole blocks; partly covered blocks are sliced by :func:`streamdata.execution.slice_at_indices`.

May import: base modules, :mod:`streamdata.plan` (node types),
:mod:`streamdata.execution`; the iterator lazily (it imports the Dataset's module).

Example:
    >>> import streamdata as sd
    >>> [s.count() for s in sd.range(7).split(2)]
    [4, 3]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from streamdata import execution
from streamdata.errors import PlanError
from streamdata.plan.logical import InputData, LogicalPlan

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.iterator import DataIterator


class SplitMixin:
    """The split methods of a Dataset."""

    _plan: LogicalPlan

    if TYPE_CHECKING:  # pragma: no cover
        def materialize(self) -> "MaterializedDataset": ...
        def random_shuffle(self, *, seed: int | None = None) -> "Dataset": ...

    def split(self, n: int, *, equal: bool = False, locality_hints: Any = None
              ) -> list["MaterializedDataset"]:
        """``n`` materialized datasets (``equal``: exactly the same number of rows each,
        dropping the remainder, as Ray does).

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split(3, equal=True)]
            [3, 3, 3]
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise PlanError(f"split needs a positive number of splits, got {n!r}")
        return _split_materialized(self.materialize(), n, equal=equal)

    def split_at_indices(self, indices: Sequence[int]) -> list["MaterializedDataset"]:
        """Split at the given row indices: ``[0, i0), [i0, i1), ..., [ik, end)``.

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split_at_indices([2, 5])]
            [2, 3, 5]
        """
        indices = list(indices)
        if any(i < 0 for i in indices):
            raise PlanError(f"split indices must be >= 0, got {indices}")
        if indices != sorted(indices):
            raise PlanError(f"split indices must be sorted, got {indices}")
        return _split_at(self.materialize(), indices)

    def split_proportionately(self, proportions: Sequence[float]) -> list["MaterializedDataset"]:
        """Split by fractions of the rows (the last split gets the rest).

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split_proportionately([0.2, 0.5])]
            [2, 5, 3]
        """
        proportions = list(proportions)
        if not proportions or any(p <= 0 for p in proportions) or sum(proportions) >= 1:
            raise PlanError(f"proportions must be > 0 and sum to less than 1, got {proportions}")
        mat = self.materialize()
        total = mat.count()
        indices, acc = [], 0.0
        for p in proportions:
            acc += p
            indices.append(min(total, int(math.floor(acc * total))))
        return mat.split_at_indices(indices)

    def train_test_split(self, test_size: float | int, *, shuffle: bool = False,
                         seed: int | None = None) -> tuple["MaterializedDataset",
                                                          "MaterializedDataset"]:
        """(train, test): ``test_size`` a fraction of the rows or a row count.

        Example:
            >>> import streamdata as sd
            >>> train, test = sd.range(10).train_test_split(0.3)
            >>> train.count(), test.count()
            (7, 3)
        """
        ds = self.random_shuffle(seed=seed) if shuffle else self
        mat = ds.materialize()
        total = mat.count()
        if isinstance(test_size, float):
            if not 0 < test_size < 1:
                raise PlanError(f"a fractional test_size must be in (0, 1), got {test_size}")
            n_test = int(math.ceil(total * test_size))
        elif isinstance(test_size, int) and not isinstance(test_size, bool):
            if not 0 < test_size < total:
                raise PlanError(f"test_size {test_size} must be in (0, {total}) rows")
            n_test = test_size
        else:
            raise PlanError(f"test_size must be a float or an int, got {test_size!r}")
        train, test = mat.split_at_indices([total - n_test])
        return train, test

    def streaming_split(self, n: int, *, equal: bool = False, locality_hints: Any = None
                        ) -> list["DataIterator"]:
        """``n`` iterators that consume one execution together (e.g. one per training
        worker); each must be iterated (concurrently) for the others to progress.

        Example:
            >>> import streamdata as sd, threading
            >>> its = sd.range(8).streaming_split(2, equal=True)
            >>> counts = [0, 0]
            >>> def consume(i):
            ...     counts[i] = sum(len(b["id"]) for b in its[i].iter_batches(batch_size=None))
            >>> ts = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
            >>> _ = [t.start() for t in ts]; _ = [t.join() for t in ts]
            >>> counts
            [4, 4]
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise PlanError(f"streaming_split needs a positive number of splits, got {n!r}")
        from streamdata.iterator import streaming_split_iterators
        return streaming_split_iterators(self, n, equal=equal, locality_hints=locality_hints)


def _split_at(mat: "MaterializedDataset", indices: Sequence[int]) -> list["MaterializedDataset"]:
    """Pieces ``[0, i0), [i0, i1), ..., [ik, end)`` of a materialized dataset."""
    root = mat._plan.root
    if not isinstance(root, InputData):  # pragma: no cover - materialize() makes InputData
        raise PlanError("splitting needs a materialized dataset")
    blocks = [blk for bundle in root.bundles for blk in bundle.blocks]
    schema = mat._plan.schema()
    pieces = execution.slice_at_indices(blocks, indices)
    return [mat._materialized(piece, schema) for piece in pieces]


def _split_materialized(mat: "MaterializedDataset", n: int, *, equal: bool
                        ) -> list["MaterializedDataset"]:
    total = mat.count()
    if equal:
        per = total // n
        return _split_at(mat, [per * k for k in range(1, n + 1)])[:n]
    return _split_at(mat, [round(total * k / n) for k in range(1, n)])


__all__ = ["SplitMixin"]
