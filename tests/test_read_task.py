"""Read tasks merged into one (issue 14, wave 9: small first and last read blocks)."""

from __future__ import annotations

import pickle

import cloudpickle
import pyarrow as pa

from streamdata.read_task import BlockMetadata, ReadTask, merge_read_tasks


class _Reads:
    """A picklable read function yielding ``values`` as one-column tables, skipping some."""

    def __init__(self, values: list[int], skipped: tuple[str, ...] = ()) -> None:
        self.values = values
        self.skipped = list(skipped)

    def __call__(self):  # type: ignore[no-untyped-def]
        for v in self.values:
            yield pa.table({"x": [v, v + 1]})


def _task(values: list[int], *, files: tuple[str, ...] = (), limit: int | None = None,
          skipped: tuple[str, ...] = (), rows: int | None = -1) -> ReadTask:
    meta = BlockMetadata(num_rows=2 * len(values) if rows == -1 else rows,
                         size_bytes=16 * len(values), input_files=files)
    return ReadTask(_Reads(values, skipped), meta, per_task_row_limit=limit)


def test_a_merged_task_yields_every_tasks_blocks_in_order_with_their_own_limits() -> None:
    merged = merge_read_tasks([_task([0, 10], limit=3), _task([20]), _task([30, 40], limit=1)])
    assert [t.column("x").to_pylist() for t in merged()] == [[0, 1], [10], [20, 21], [30]]


def test_a_merged_tasks_metadata_adds_up_and_unknown_stays_unknown() -> None:
    merged = merge_read_tasks([_task([1], files=("a",)), _task([2, 3], files=("b", "c"))])
    assert (merged.metadata.num_rows, merged.metadata.size_bytes) == (6, 48)
    assert merged.metadata.input_files == ("a", "b", "c")
    unknown = merge_read_tasks([_task([1]), _task([2], rows=None)])
    assert unknown.metadata.num_rows is None and unknown.metadata.size_bytes == 32


def test_a_merged_task_reports_what_each_task_skipped_and_survives_pickling() -> None:
    merged = merge_read_tasks([_task([1], skipped=("a.parquet: bad",)), _task([2]),
                               _task([3], skipped=("c.parquet: bad",))])
    for copy in (merged, pickle.loads(pickle.dumps(merged)), cloudpickle.loads(cloudpickle.dumps(merged))):
        assert copy.skipped_inputs == ["a.parquet: bad", "c.parquet: bad"]
        assert [t.column("x")[0].as_py() for t in copy()] == [1, 2, 3]


def test_one_task_is_not_wrapped() -> None:
    task = _task([5])
    assert merge_read_tasks([task]) is task
