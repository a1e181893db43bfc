"""Ray's example connectors of ``ray.data.datasource``, for tests and for learning the
interfaces: :class:`DummyOutputDatasink` (counts what is written) and
:class:`RandomIntRowDatasource` (rows of random int64 columns).

Example:
    >>> import streamdata as sd
    >>> output = DummyOutputDatasink()
    >>> sd.range(10).write_datasink(output)
    >>> output.num_ok, output.rows_written
    (1, 10)
    >>> sd.read_datasource(RandomIntRowDatasource(n=5, num_columns=2)).count()
    5
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.read_task import BlockMetadata, ReadTask


class DummyOutputDatasink(Datasink):
    """A sink that writes nowhere: it counts the rows written (``rows_written``), the
    completed writes (``num_ok``) and the failed ones (``num_failed``). Set ``enabled =
    False`` to make its write tasks fail."""

    name = "WriteDummyOutput"

    def __init__(self) -> None:
        self.enabled = True
        self.num_ok = 0
        self.num_failed = 0
        self.rows_written = 0

    def write(self, blocks: Iterable[pa.Table], ctx: Any) -> dict[str, int]:
        if not self.enabled:
            raise ValueError("DummyOutputDatasink is disabled (enabled=False)")
        return {"num_rows": sum(block.num_rows for block in blocks)}

    def on_write_complete(self, write_results: Any) -> None:
        self.num_ok += 1
        self.rows_written += sum(r.get("num_rows", 0) for r in write_results if isinstance(r, dict))

    def on_write_failed(self, error: BaseException) -> None:
        self.num_failed += 1


def _random_block(count: int, num_columns: int) -> pa.Table:
    values = np.random.randint(np.iinfo(np.int64).max, size=(num_columns, count), dtype=np.int64)
    return pa.table({f"c_{i}": values[i] for i in range(num_columns)})


class RandomIntRowDatasource(Datasource):
    """``n`` rows of ``num_columns`` random int64 columns named ``c_0``, ``c_1``, ..."""

    name = "ReadRandomInt"

    def __init__(self, n: int, num_columns: int) -> None:
        for arg, value in (("n", n), ("num_columns", num_columns)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"RandomIntRowDatasource {arg} must be an int >= 0, got {value!r}")
        self._n = n
        self._num_columns = num_columns

    def estimate_inmemory_data_size(self) -> int | None:
        return self._n * self._num_columns * 8

    def num_rows(self) -> int | None:
        return self._n

    def schema(self) -> pa.Schema | None:
        return pa.schema([(f"c_{i}", pa.int64()) for i in range(self._num_columns)])

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: Any = None) -> list[ReadTask]:
        per_task = max(1, -(-self._n // max(1, parallelism)))
        tasks = []
        for start in range(0, self._n, per_task):
            count = min(per_task, self._n - start)
            meta = BlockMetadata(num_rows=count, size_bytes=count * self._num_columns * 8)
            tasks.append(ReadTask(lambda c=count, k=self._num_columns: [_random_block(c, k)], meta))
        return tasks


__all__ = ["DummyOutputDatasink", "RandomIntRowDatasource"]
