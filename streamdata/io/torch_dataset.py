"""Map-style PyTorch datasets as sources: ``from_torch``, one row per item in column ``item``.

The dataset is pickled into the read tasks, each of which reads a contiguous index range
(``dataset[i]``) and yields blocks of about the DataContext's target size.

Example:
    >>> src = TorchDatasource([10, 20, 30])
    >>> [b.to_pydict() for t in src.get_read_tasks(2) for b in t()]
    [{'item': [10, 20]}, {'item': [30]}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.errors import DataSourceError, PlanError
from streamdata.io.datasource import Datasource
from streamdata.io.sizing import split_evenly, target_block_sizes
from streamdata.read_task import ReadTask


def _to_numpy(item: Any) -> Any:
    """Tensors (also inside tuples/lists/dicts) as numpy arrays, so they become tensor columns."""
    if hasattr(item, "detach") and hasattr(item, "numpy"):
        return item.detach().cpu().numpy()
    if isinstance(item, tuple):
        return tuple(_to_numpy(v) for v in item)
    if isinstance(item, list):
        return [_to_numpy(v) for v in item]
    if isinstance(item, dict):
        return {k: _to_numpy(v) for k, v in item.items()}
    return item


class _TorchRange:
    def __init__(self, dataset: Any, lo: int, hi: int) -> None:
        self.dataset, self.lo, self.hi = dataset, lo, hi

    def __call__(self) -> Iterator[pa.Table]:
        from streamdata import block as B

        _, max_bytes = target_block_sizes()
        rows: list[dict[str, Any]] = []
        size = 0
        for i in range(self.lo, self.hi):
            try:
                item = _to_numpy(self.dataset[i])
            except Exception as exc:  # noqa: BLE001 - named
                raise DataSourceError(f"from_torch: {type(self.dataset).__name__}[{i}] failed: "
                                      f"{type(exc).__name__}: {exc}") from exc
            rows.append({"item": item})
            size += getattr(item, "nbytes", 64)
            if size >= max_bytes:
                yield B.rows_to_table(rows, what="from_torch")
                rows, size = [], 0
        if rows or self.lo == self.hi:
            yield B.rows_to_table(rows, what="from_torch") if rows else pa.table({"item": pa.array([], pa.null())})


class TorchDatasource(Datasource):
    """A map-style torch dataset (see the module docstring)."""

    name = "FromTorch"

    def __init__(self, dataset: Any) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            kind = type(dataset).__name__
            raise PlanError(f"from_torch takes a map-style dataset (with __len__ and __getitem__), got {kind}; "
                            f"for an IterableDataset, iterate it into from_items")
        self._dataset = dataset

    def num_rows(self) -> int:
        return len(self._dataset)

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        n = len(self._dataset)
        return [ReadTask(_TorchRange(self._dataset, lo, hi), BlockMetadata(num_rows=hi - lo))
                for lo, hi in split_evenly(n, max(1, min(int(parallelism), max(1, n))))]
