"""Plan-only: a read of more files than tasks gets tasks of equal file counts (issue 14,
wave 9: ``larger_than_memory``'s 40 files ran as 17 tasks of 2 and 3 files, and a CPU
sat idle at the end while the other finished its extra file).

Starts no processes: the files are written here, the rule and the grouping run on the plan.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.context import DataContext
from streamdata.io.parquet import ParquetDatasource
from streamdata.io.text import TextDatasource
from streamdata.plan.logical import LogicalPlan, Read
from streamdata.plan.map_nodes import MapBatches
from streamdata.plan.optimizer import optimize
from streamdata.plan.rules.base import OptimizerContext
from streamdata.plan.rules.read_parallelism import even_file_groups, read_parallelism


@pytest.mark.parametrize(("tasks", "files", "cpus", "expected"), [
    (17, 40, 2, 20),   # larger_than_memory's quick suite: 2 files a task, both CPUs end together
    (4, 16, 2, 4),     # the suite's small Parquet reads: already even
    (4, 10, 2, 5),
    (5, 11, 2, 6),     # 5 tasks of 2 and one of 1 (never a task of 3)
    (8, 5, 2, 8),      # fewer files than tasks: they are split into byte ranges instead
    (2, 3, 1, 2),      # one CPU: nobody waits at the end
    (3, None, 2, 3),   # not a file source
])
def test_the_task_count_gives_every_task_the_same_number_of_files(tasks, files, cpus, expected) -> None:  # type: ignore[no-untyped-def]
    assert even_file_groups(tasks, files, cpus) == expected  # never fewer than asked for


def _files(tmp_path, sizes: list[int]) -> str:  # type: ignore[no-untyped-def]
    out = tmp_path / "f"
    out.mkdir()
    for i, n in enumerate(sizes):
        (out / f"{i:03d}.txt").write_text("x" * n)
    return str(out)


def test_nearly_equal_files_fall_into_groups_of_equal_counts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A few bytes' difference between files (random data compressed) made groups of 3, 2, 1
    when each group ended at the first split reaching its share; it ends at the nearest."""
    sizes = [1000 + (i * 7919) % 13 for i in range(40)]  # 1000-1012 bytes, in no order
    src = TextDatasource(_files(tmp_path, sizes))
    groups = src.plan_splits(20)
    assert [len(g) for g in groups] == [2] * 20
    flat = [s.path for g in groups for s in g]
    assert flat == sorted(flat)  # contiguous, in file order
    assert sorted(len(g) for g in src.plan_splits(17)) == [2] * 11 + [3] * 6


def test_groups_by_bytes_still_follow_unequal_sizes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = TextDatasource(_files(tmp_path, [900, 100, 100, 100, 100, 100, 100, 100, 100, 100]))
    groups = src.plan_splits(2)
    assert [len(g) for g in groups] == [1, 9]  # 900 | 900


def test_a_parquet_read_of_forty_files_feeding_a_udf_gets_twenty_tasks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The rule's size estimate asks for 17 tasks (as for larger_than_memory: 5× the files over
    the largest block); the read gets 20 of 2 files each."""
    out = tmp_path / "pq"
    out.mkdir()
    for i in range(40):
        pq.write_table(pa.table({"x": list(range(100 + i % 3))}), out / f"part-{i:03d}.parquet")
    source = ParquetDatasource(str(out))
    size = source.estimate_inmemory_data_size()
    assert size is not None
    ctx = DataContext()
    ctx.target_max_block_size = -(-size // 17)  # the size rule alone: 17 tasks
    octx = OptimizerContext.from_data_context(ctx, num_cpus=2, num_gpus=0)
    read = Read(datasource=source)
    assert read_parallelism(read, octx) == 20
    plan = optimize(LogicalPlan(MapBatches(inputs=(read,), fn=lambda b: b)), octx)
    node = plan.root
    while not isinstance(node, Read) and node.inputs:
        node = node.inputs[0]
    reads = [node] if isinstance(node, Read) else [s for s in getattr(plan.root, "stages", ()) if isinstance(s, Read)]
    assert reads and reads[0].parallelism == 20
    assert [len(g) for g in source.plan_splits(20)] == [2] * 20
    assert read_parallelism(Read(datasource=source, override_num_blocks=17), octx) == 17  # the user's count stands
