"""``import streamdata`` stays instant: it loads the Dataset API and the runtime's client
API, and leaves the executor, the runtime's state machine, serving, training and the
connectors to their first use. Checked in a fresh interpreter, by the modules it loads
(what each costs is measured in benchmarks/core_micro.py, never here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: modules a data script that only builds plans must not pay for at import
DEFERRED = (
    "streamdata.serve", "streamdata.train", "streamdata.util", "streamdata.aggregate",
    "streamdata.read_connectors", "streamdata.exec.executor", "streamdata.plan.lowering",
    "streamdata.execution.runner", "streamdata.core.runtime", "streamdata.core.state",
    "streamdata.core.client", "pandas", "asyncio", "torch", "ray", "fsspec",
)


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_loads_no_deferred_module() -> None:
    loaded = _loaded_after("import streamdata")
    assert sorted(m for m in DEFERRED if m in loaded) == []


@pytest.mark.parametrize("name, module", [
    ("serve", "streamdata.serve"), ("train", "streamdata.train"), ("aggregate", "streamdata.aggregate"),
    ("read_avro", "streamdata.read_connectors"), ("SaveMode", "streamdata.io.save_mode"),
])
def test_deferred_names_load_on_first_use(name: str, module: str) -> None:
    loaded = _loaded_after(f"import streamdata as sd\nassert sd.{name} is not None")
    assert module in loaded


def test_building_a_plan_still_runs_nothing() -> None:
    loaded = _loaded_after("import streamdata as sd\nsd.range(10).map_batches(lambda b: b).filter(expr='id > 2')")
    assert "streamdata.exec.executor" not in loaded and "streamdata.core.runtime" not in loaded


def test_a_first_numeric_pass_over_local_parquet_loads_neither_pandas_nor_the_dataset_scanner(tmp_path) -> None:
    """A script's first ``iter_batches`` over local Parquet files (read on the driver's
    threads) takes each footer with ``pyarrow.parquet`` and hands numeric columns over as
    views: ``pyarrow.dataset`` and pyarrow's ``to_numpy`` would import pandas (~0.3 s)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i in range(3):
        pq.write_table(pa.table({"id": list(range(i * 10, i * 10 + 10)), "x": [0.5] * 10}), tmp_path / f"{i}.parquet")
    loaded = _loaded_after(
        "import streamdata as sd\n"
        f"ids = [int(i) for b in sd.read_parquet({str(tmp_path)!r}).iter_batches(batch_size=7) for i in b['id']]\n"
        "assert sorted(ids) == list(range(30)), ids\n"
        f"assert sd.read_parquet({str(tmp_path)!r}).sum('x') == 15.0\n")
    assert "streamdata.execution.driver_read" in loaded  # the read ran on the driver
    assert "pyarrow.dataset" not in loaded and "pandas" not in loaded
