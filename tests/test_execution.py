"""The execution layer: compiling logical plans (no processes) and running them."""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa
import pytest

from streamdata import block as B
from streamdata import execution
from streamdata.core import api as rt
from streamdata.errors import PlanError
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.output_splitter import OutputSplitterOperator
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.io.datasink import Datasink
from streamdata.io.memory import RangeDatasource
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.logical import (
    ActorPoolStrategy, Filter, InputData, Limit, LogicalPlan, MapBatches, MapRows, Project,
    RandomShuffle, Read, Sort, StreamingSplit, Union, Write,
)


class _Model:
    def __call__(self, batch: Any) -> Any:
        return batch


def _read(n: int = 10, blocks: int | None = None) -> Read:
    return Read(datasource=RangeDatasource(n), override_num_blocks=blocks)


# ---------------------------------------------------------------------------- compile (no processes)


def test_compile_uses_the_given_cluster_for_read_parallelism() -> None:
    plan = LogicalPlan(MapBatches(inputs=(_read(1000),), fn=len))
    small = execution.compile(plan, cluster=ClusterInfo(num_cpus=1))
    big = execution.compile(plan, cluster=ClusterInfo(num_cpus=8))
    assert small.cluster.num_cpus == 1 and big.cluster.num_cpus == 8
    assert small.logical.root.input.parallelism < big.logical.root.input.parallelism


def test_compile_notes_cpu_oversubscription_once_and_explain_shows_it() -> None:
    # an actor pool of 2 one-CPU actors holds both CPUs (the read runs in the actors): the
    # tasks of the map after the pool run with num_cpus=0
    pool = MapBatches(inputs=(_read(100, blocks=2),), fn=_Model,
                      compute=ActorPoolStrategy(min_size=2, max_size=2))
    plan = LogicalPlan(MapBatches(inputs=(pool,), fn=lambda b: b))
    physical = execution.compile(plan, cluster=ClusterInfo(num_cpus=2))
    ops = list(physical.dag.post_order())
    after = next(op for op in ops if isinstance(op, TaskPoolMapOperator))
    assert isinstance(ops[-2], ActorPoolMapOperator) and ops[-1] is after
    assert physical.oversubscribed == {after.name: 2}
    assert after.cpu_oversubscription_cap == 2
    assert "runs with num_cpus=0, at most 2 tasks at once" in physical.explain()
    roomy = execution.compile(plan, cluster=ClusterInfo(num_cpus=4))
    assert roomy.oversubscribed == {}


def test_streaming_split_node_checks_n_and_lowers_to_an_output_splitter() -> None:
    with pytest.raises(PlanError, match="n must be an integer >= 1"):
        StreamingSplit(inputs=(_read(),), n=0)
    with pytest.raises(PlanError, match="n must be an integer >= 1"):
        StreamingSplit(inputs=(_read(),), n=True)
    node = StreamingSplit(inputs=(_read(),), n=3, equal=True)
    dag = execution.compile(LogicalPlan(node), cluster=ClusterInfo(num_cpus=2)).dag
    assert isinstance(dag, OutputSplitterOperator)
    assert dag.name == "OutputSplitter(n=3, equal)"


def test_row_counts_come_from_the_nodes() -> None:
    read = _read(10)
    assert LogicalPlan(read).num_rows() == 10
    assert LogicalPlan(Limit(inputs=(read,), limit=4)).num_rows() == 4
    assert LogicalPlan(Limit(inputs=(read,), limit=40)).num_rows() == 10
    assert LogicalPlan(Union(inputs=(read, _read(5)))).num_rows() == 15
    assert LogicalPlan(Sort(inputs=(Project(inputs=(read,), select=("id",)),),
                            keys=("id",))).num_rows() == 10
    assert LogicalPlan(RandomShuffle(inputs=(read,))).num_rows() == 10
    # a filter or a UDF map changes (or may change) the count: unknown without running
    assert LogicalPlan(Filter(inputs=(read,), fn=bool)).num_rows() is None
    assert LogicalPlan(Union(inputs=(read, MapRows(inputs=(read,), fn=dict)))).num_rows() is None
    assert LogicalPlan(InputData()).num_rows() == 0


def test_one_batch_format_normaliser() -> None:
    assert [B.normalize_batch_format(f) for f in ("default", "numpy", "pandas", "pyarrow",
                                                  "arrow", None)] == \
        ["numpy", "numpy", "pandas", "pyarrow", "pyarrow", "pyarrow"]
    with pytest.raises(PlanError, match=r"batch_format must be one of .*got 'polars'"):
        B.normalize_batch_format("polars")
    from streamdata.plan.nodes_base import BATCH_FORMATS
    assert BATCH_FORMATS is B.BATCH_FORMATS


# ---------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    yield
    rt.shutdown()


def test_iterate_records_stats_and_run_collects(runtime: None) -> None:
    record = execution.StatsRecord()
    plan = LogicalPlan(MapBatches(inputs=(_read(20, blocks=4),), fn=lambda b: b))
    tables = list(execution.iter_tables(execution.iterate(plan, record=record)))
    assert sum(t.num_rows for t in tables) == 20
    assert record.last is not None and "MapBatches" in str(record)
    result = execution.run(plan)
    assert sum(b.num_rows() for b in result.bundles) == 20
    assert all(not b.owns_blocks for b in result.bundles)
    # a plan already in the object store runs nothing
    again = list(execution.iterate(LogicalPlan(InputData(bundles=tuple(result.bundles)))))
    assert again == result.bundles


class _Recorder(Datasink):
    def __init__(self, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.events: list[Any] = []

    def on_write_start(self) -> None:
        self.events.append("start")

    def write(self, blocks: Any, ctx: Any) -> int:
        blocks = list(blocks)
        rows = sum(b.num_rows for b in blocks)
        ids = [v for b in blocks for v in b.column("id").to_pylist()]
        if self.fail_on is not None and self.fail_on in ids:
            raise ValueError(f"bad row {self.fail_on}")
        return rows

    def on_write_complete(self, results: list[Any]) -> None:
        self.events.append(("complete", sum(results)))

    def on_write_failed(self, error: BaseException) -> None:
        self.events.append(("failed", type(error).__name__))


def test_write_drives_the_commit_protocol(runtime: None) -> None:
    sink = _Recorder()
    execution.write(LogicalPlan(Write(inputs=(_read(12, blocks=3),), datasink=sink)))
    assert sink.events[-1] == ("complete", 12)
    with pytest.raises(PlanError, match="a plan ending in a Write"):
        execution.write(LogicalPlan(_read(3)))


def test_a_failed_write_is_rolled_back_and_raised(runtime: None) -> None:
    # the sink object in the driver is not the one the tasks use: only the driver's
    # on_write_* calls are recorded here
    sink = _Recorder(fail_on=7)
    with pytest.raises(Exception, match="bad row 7"):
        execution.write(LogicalPlan(Write(inputs=(_read(12, blocks=3),), datasink=sink)))
    assert sink.events[0] == "start" and sink.events[-1][0] == "failed"


def test_slice_at_indices_shares_whole_blocks(runtime: None) -> None:
    from streamdata.block_metadata import BlockMetadata
    t1, t2 = pa.table({"a": range(4)}), pa.table({"a": range(4, 6)})
    blocks = [(rt.put(t1), BlockMetadata.of(t1)), (rt.put(t2), BlockMetadata.of(t2))]
    pieces = execution.slice_at_indices(blocks, [4, 5])
    assert [[b.num_rows() for b in p] for p in pieces] == [[4], [1], [1]]
    assert pieces[0][0].blocks[0][0] is blocks[0][0]  # whole block: the same object
    values = [t.column("a").to_pylist() for p in pieces for t in execution.get_tables(p)]
    assert values == [[0, 1, 2, 3], [4], [5]]


# ---------------------------------------------------------------------------- layering

_FACADE = ("streamdata/dataset.py", "streamdata/dataset_args.py", "streamdata/dataset_consume.py",
           "streamdata/dataset_write.py", "streamdata/dataset_split.py", "streamdata/grouped.py",
           "streamdata/iterator.py", "streamdata/read_api.py", "streamdata/dataset_columns.py",
           "streamdata/dataset_meta.py", "streamdata/dataset_interop.py",
           "streamdata/iterator_extras.py", "streamdata/read_refs.py", "streamdata/dataset_display.py")
_FACADE_MODULES = {p[:-3].replace("/", ".") for p in _FACADE}


def _imports(path: str) -> set[str]:
    """Every module ``path`` imports, at any depth (function bodies and TYPE_CHECKING too)."""
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    tree = ast.parse((root / path).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", _FACADE)
def test_the_facade_reaches_the_executor_and_runtime_only_through_execution(path: str) -> None:
    below = sorted(m for m in _imports(path)
                   if m.startswith(("streamdata.exec.", "streamdata.core")) or m == "streamdata.exec")
    assert below == [], f"{path} imports {below}; go through streamdata.execution"


def test_execution_never_imports_the_facade() -> None:
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    for path in sorted((root / "streamdata" / "execution").glob("*.py")):
        rel = str(path.relative_to(root))
        up = sorted(m for m in _imports(rel) if m in _FACADE_MODULES)
        assert up == [], f"{rel} imports the facade: {up}"


def test_grouped_does_not_import_the_dataset_module() -> None:
    assert not {m for m in _imports("streamdata/grouped.py") if m.startswith("streamdata.dataset")} - {
        "streamdata.dataset_args", "streamdata.dataset_args.normalize_batch_format",
        "streamdata.dataset_args.udf_fields"}
