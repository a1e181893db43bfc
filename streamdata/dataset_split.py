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
from streamdata.dataset_observed import record
from streamdata.errors import PlanError
from streamdata.plan.logical import InputData, LogicalPlan

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.iterator import DataIterator


class SplitMixin:
    """The split methods of a Dataset."""

    _plan: LogicalPlan

    if TYPE_CHECKING:  # pragma: no cover
        def _check_columns(self, cols: Any) -> None: ...
        def map_batches(self, fn: Any, **kwargs: Any) -> "Dataset": ...
        def materialize(self) -> "MaterializedDataset": ...
        def random_shuffle(self, *, seed: int | None = None) -> "Dataset": ...
        def _meta_count(self) -> int | None: ...

    def _materialize_for_split(self, note: bool = True) -> "MaterializedDataset":
        """``materialize()``; ``note``: its rows and schema recorded on this dataset too, as
        Ray's ``split``/``split_at_indices`` leave them (they run this dataset's own plan)."""
        mat = self.materialize()
        if note:
            record(self, mat._plan.root.bundles)
        return mat

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
        return _split_materialized(self._materialize_for_split(), n, equal=equal)

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
        return _split_at(self._materialize_for_split(), indices)

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
        mat = self._materialize_for_split(note=self._meta_count() is not None)  # as Ray's
        total = mat.count()
        indices, acc = [], 0.0
        for p in proportions:
            acc += p
            indices.append(min(total, int(math.floor(acc * total))))
        return mat.split_at_indices(indices)

    def train_test_split(self, test_size: float | int, *, shuffle: bool = False,
                         seed: int | None = None, stratify: str | None = None
                         ) -> tuple["MaterializedDataset", "MaterializedDataset"]:
        """(train, test): ``test_size`` a fraction of the rows or a row count.

        ``stratify=column`` keeps each value's share of rows the same in both parts (every
        group gives ``int(n * fraction)`` rows to test); it excludes ``shuffle``.

        Example:
            >>> import streamdata as sd
            >>> train, test = sd.range(10).train_test_split(0.3)
            >>> train.count(), test.count()
            (7, 3)
        """
        if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
            raise PlanError(f"test_size must be a float or an int, got {test_size!r}")
        if stratify is not None:
            if shuffle:
                raise PlanError("train_test_split takes shuffle=True or stratify=..., not both "
                                "(a stratified split keeps each class's proportion)")
            if not isinstance(stratify, str):
                raise PlanError(f"stratify must be a column name, got {stratify!r}")
            return _stratified_split(self, test_size, stratify)
        ds = self.random_shuffle(seed=seed) if shuffle else self
        mat = ds._materialize_for_split(note=ds._meta_count() is not None)  # as Ray's
        total = mat.count()
        n_test = _test_rows(test_size, total)
        train, test = mat.split_at_indices([total - n_test])
        return train, test

    def streaming_train_test_split(self, test_size: float, *, split_type: str = "random",
                                   hash_column: str | None = None, seed: int | None = None,
                                   **ray_remote_kwargs: Any) -> tuple["Dataset", "Dataset"]:
        """(train, test) without materializing: each row goes to test with probability
        ``test_size``. ``split_type="random"`` draws per block from ``seed`` and the block's
        content (the same rows split the same way on every execution of the same input);
        ``"hash"`` decides by a hash of ``hash_column``'s value (stable across datasets).

        Example:
            >>> import streamdata as sd
            >>> train, test = sd.range(100).streaming_train_test_split(0.25, seed=0)
            >>> train.count() + test.count()
            100
        """
        if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) \
                or not 0 < test_size < 1:
            raise PlanError(f"test_size must be between 0 and 1, got {test_size!r}")
        if split_type not in ("random", "hash"):
            raise PlanError(f"split_type must be 'random' or 'hash', got {split_type!r}")
        if split_type == "hash":
            if seed is not None:
                raise PlanError("seed is not supported for a hash split")
            if not isinstance(hash_column, str):
                raise PlanError(f"a hash split needs hash_column (a column name), "
                                f"got {hash_column!r}")
            self._check_columns([hash_column])
        elif hash_column is not None:
            raise PlanError("hash_column is not supported for a random split")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise PlanError(f"seed must be an int, got {seed!r}")
        parts = []
        for want_test in (False, True):
            side = _SplitSide(float(test_size), split_type, hash_column, seed, want_test)
            parts.append(self.map_batches(side, batch_format="pyarrow", **ray_remote_kwargs))
        return parts[0], parts[1]

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


def _test_rows(test_size: float | int, total: int) -> int:
    if isinstance(test_size, float):
        if not 0 < test_size < 1:
            raise PlanError(f"a fractional test_size must be in (0, 1), got {test_size}")
        return int(math.ceil(total * test_size))
    if not 0 < test_size < total:
        raise PlanError(f"test_size {test_size} must be in (0, {total}) rows")
    return test_size


_FLAG = "__streamdata_is_test"


class _StratumFlag:
    """``map_groups`` function: the last ``int(n * fraction)`` rows of a group are test."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def __call__(self, group: Any) -> Any:
        import pyarrow as pa
        n = group.num_rows
        k = int(n * self.fraction)
        return group.append_column(_FLAG, pa.array([False] * (n - k) + [True] * k))


def _stratified_split(ds: Any, test_size: float | int, column: str) -> tuple[Any, Any]:
    from streamdata.expressions import col
    ds._check_columns([column])
    fraction = test_size if isinstance(test_size, float) else \
        _test_rows(test_size, ds.count()) / max(1, ds.count())
    if isinstance(test_size, float):
        _test_rows(test_size, 1)  # checks the range
    flagged = ds.groupby(column).map_groups(_StratumFlag(fraction),
                                            batch_format="pyarrow").materialize()
    train = flagged.filter(expr=col(_FLAG) == False).drop_columns([_FLAG])  # noqa: E712
    test = flagged.filter(expr=col(_FLAG) == True).drop_columns([_FLAG])  # noqa: E712
    return train.materialize(), test.materialize()


class _SplitSide:
    """``map_batches`` function of ``streaming_train_test_split``: one side's rows."""

    def __init__(self, test_size: float, split_type: str, column: str | None, seed: int | None,
                 want_test: bool) -> None:
        self.test_size, self.split_type, self.column = test_size, split_type, column
        self.seed, self.want_test = seed, want_test
        self.__name__ = "test_split" if want_test else "train_split"

    def __call__(self, table: Any) -> Any:
        import hashlib

        import numpy as np
        import pyarrow as pa
        if self.split_type == "hash":
            limit = self.test_size * (1 << 64)
            is_test = np.fromiter(
                (int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "big")
                 < limit for v in table.column(self.column).to_pylist()),
                dtype=bool, count=table.num_rows)
        else:
            head = table.slice(0, 1).to_pylist(), table.slice(table.num_rows - 1).to_pylist()
            digest = hashlib.blake2b(repr((head, table.num_rows)).encode(), digest_size=8)
            rng = np.random.default_rng([int.from_bytes(digest.digest(), "big"),
                                         self.seed if self.seed is not None else 0])
            is_test = rng.random(table.num_rows) < self.test_size
        return table.filter(pa.array(is_test if self.want_test else ~is_test))


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
