"""The pure parts of monitoring, without processes: rendering (escaping, sections), Prometheus
families from a hand-made snapshot, metric aggregation, backpressure clock, session directories,
LoggingConfig, the state API's filters and summaries, what serve/train publish."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from streamdata.core import session_logs
from streamdata.core.logging_config import LoggingConfig, coerce
from streamdata.core.metrics_agg import MetricsAggregator
from streamdata.exec.live import BackpressureClock
from streamdata.observability import render, sources
from streamdata.util import state


def _snapshot(**over: Any) -> dict:
    snap = {"session": "session_x", "time": time.time(),
            "resources": {"total": {"CPU": 4.0, "memory": 1e9}, "available": {"CPU": 1.0, "memory": 5e8}},
            "store": {"used_bytes": 512, "capacity_bytes": 4096, "spilled_bytes": 0, "num_objects": 3},
            "datasets": [{"id": 7, "name": "Map<script>", "state": "RUNNING", "wall_s": 1.5, "budget_bytes": 2048,
                          "peak_object_store_bytes": 1024, "operators": [
                              {"name": "ReadRange->Map(<b>f</b>)", "rows_out": 12345, "bytes_out": 2048,
                               "blocks_out": 3, "tasks": 4, "wall_s": 1.0, "cpu_s": 0.5, "peak_bytes": 100,
                               "backpressure_s": 0.25, "errored_blocks": 0}]}],
            "task_summary": {"f": {"func_or_class_name": "f", "type": "NORMAL_TASK", "state_counts": {"RUNNING": 2}}},
            "task_states": {"RUNNING": 2},
            "tasks": [{"task_id": "t1", "name": "f", "state": "RUNNING", "worker_pid": 11}],
            "actors": [{"actor_id": "a1", "class_name": "A", "name": "", "state": "ALIVE", "pid": 12,
                        "num_restarts": 0}],
            "placement_groups": [], "workers": [], "serve": None, "train": [], "logs": []}
    snap.update(over)
    return snap


def test_the_page_escapes_every_name_and_shows_operator_rows() -> None:
    html = render.page(_snapshot())
    assert "<script>" not in html.replace("<script>\n(function", "")  # only the page's own script
    assert "Map&lt;script&gt;" in html and "ReadRange-&gt;Map(&lt;b&gt;f&lt;/b&gt;)" in html
    assert 'data-key="ReadRange-&gt;Map(&lt;b&gt;f&lt;/b&gt;)"' in html and "12,345" in html
    fragment = render.sections(_snapshot())
    assert "<script" not in fragment and 'id="datasets"' in fragment and "3 of 4 in use" in fragment


def test_serve_and_train_sections() -> None:
    serve = {"proxies": {"node": "HEALTHY"}, "applications": {"app1": {"status": "RUNNING", "deployments": {
        "D": {"status": "HEALTHY", "replica_states": {"RUNNING": 2}, "status_trigger": "AUTOSCALING",
              "message": "<x>"}}}}}
    html = render.serve_section(serve)
    assert "app1" in html and "RUNNING: 2" in html and "AUTOSCALING" in html and "&lt;x&gt;" in html
    assert "error" in render.serve_section({"error": "ActorDiedError: gone"})
    run = sources.train_run_started("unit_run", "/tmp/unit_run")
    run.history += [{"loss": 1.0, "epoch": 0, "blob": [1, 2]}, {"loss": 0.5, "epoch": 1}]
    [shown] = [r for r in sources.train_runs() if r["name"] == "unit_run"]
    assert shown["state"] == "RUNNING" and shown["metrics"][0] == {"loss": 1.0, "epoch": 0}  # no lists shown
    run.finish(ValueError("diverged\nmore"), failures=1)
    [shown] = [r for r in sources.train_runs() if r["name"] == "unit_run"]
    assert shown["state"] == "ERRORED" and shown["error"] == "ValueError: diverged"
    assert "unit_run" in render.train_section([shown]) and "0.5" in render.train_section([shown])
    sources.register_status("unit", lambda: 1 / 0)
    assert "ZeroDivisionError" in sources.status("unit")["error"]
    sources.register_status("unit", None)
    assert sources.status("unit") is None


def test_prometheus_families_from_a_snapshot() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from streamdata.observability import prometheus
    agg = MetricsAggregator()
    agg.record("counter", "reqs", "requests", ("route",), None, (("route", "/"),), 2.0, 1.0)
    agg.record("gauge", "depth", "", (), None, (), 3.0, 1.0)
    agg.record("histogram", "lat", "", (), (1.0, 2.0), (), 1.5, 1.0)
    snap = {"task_counts": [("f", "NORMAL_TASK", "RUNNING", 1), ("f", "NORMAL_TASK", "RUNNING", 1)],
            "actors": [{"state": "ALIVE", "class_name": "A"}], "placement_groups": [],
            "store": {"used_bytes": 10, "capacity_bytes": 100, "spilled_bytes": 5, "num_objects": 2},
            "total": {"CPU": 2.0}, "available": {"CPU": 0.5}, "datasets": _snapshot()["datasets"],
            "custom": agg.snapshot()}
    families = {f.name: f for f in text_string_to_metric_families(prometheus.render(snap))}
    assert families["ray_tasks"].samples[0].value == 2.0
    assert families["ray_tasks"].samples[0].labels == {"State": "RUNNING", "Name": "f"}
    assert {s.labels["State"]: s.value for s in families["ray_resources"].samples} == {"USED": 1.5, "AVAILABLE": 0.5}
    assert families["ray_object_store_available_memory"].samples[0].value == 90.0
    assert families["ray_data_output_rows"].samples[0].labels["dataset"] == "Map<script>_7"
    assert families["ray_reqs"].samples[0].value == 2.0 and families["ray_depth"].samples[0].value == 3.0
    buckets = [s.value for s in families["ray_lat"].samples if s.name == "ray_lat_bucket"]
    assert buckets == [0.0, 1.0, 1.0]


def test_aggregation_merges_processes() -> None:
    driver, worker = MetricsAggregator(), MetricsAggregator()
    worker.record("gauge", "g", "", (), None, (), 1.0, now=5.0)
    driver.record("gauge", "g", "", (), None, (), 2.0, now=9.0)
    driver.merge(worker.take())  # older: the driver's later value stays
    assert driver.snapshot()["values"][("g", ())] == 2.0
    worker.record("histogram", "h", "", (), (1.0,), (), 0.5, now=1.0)
    worker.record("histogram", "h", "", (), (1.0,), (), 1.0, now=1.0)  # <= bound: its bucket (le)
    worker.record("histogram", "h", "", (), (1.0,), (), 3.0, now=1.0)
    driver.merge(worker.take())
    assert driver.snapshot()["values"][("h", ())] == ([2, 1], 4.5, 3)


def test_backpressure_clock_counts_time_with_inputs_held_back() -> None:
    clock = BackpressureClock()
    clock.note([0, 2], now=1.0)
    clock.note([0, 1], now=2.0)
    clock.note([3, 0], now=4.0)
    assert clock.totals(now=5.0) == [1.0, 3.0]


def test_session_dirs_link_latest_and_prune_dead_ones(tmp_path: Any) -> None:
    root = str(tmp_path)
    dead = [os.path.join(root, f"session_2000-01-01_00-00-0{i}_000000_999999{i}") for i in range(3)]
    for i, path in enumerate(dead):
        os.makedirs(os.path.join(path, "logs"))
        os.utime(path, (1000 + i, 1000 + i))
    alive = os.path.join(root, f"session_2000-01-01_00-00-00_000000_{os.getpid()}")  # a live driver's
    os.makedirs(alive)
    os.utime(alive, (10, 10))
    current = session_logs.create_session_dir(root=root, keep=2)
    left = sorted(os.listdir(root))
    assert os.path.basename(current) in left and os.path.basename(alive) in left
    assert os.path.basename(dead[2]) in left and os.path.basename(dead[0]) not in left
    assert os.readlink(os.path.join(root, "session_latest")) == current
    with open(os.path.join(current, "logs", "worker-a-1.out"), "w") as f:
        f.write("x" * 10 + "tail")
    assert session_logs.tail(current, "worker-a-1.out", max_bytes=4) == "tail"
    assert session_logs.log_files(current) == [{"file": "worker-a-1.out", "size": 14}]
    os.makedirs(os.path.join(current, "logs", "serve"))
    with open(os.path.join(current, "logs", "serve", "controller_1.log"), "w") as f:
        f.write("started")
    assert session_logs.tail(current, "serve/controller_1.log") == "started"
    assert {"file": "serve/controller_1.log", "size": 7} in session_logs.log_files(current)
    for bad in ("../x", "", ".hidden", "logs/worker-a-1.out", "serve/../../x", "a/b/c", "serve"):
        with pytest.raises(FileNotFoundError):
            session_logs.tail(current, bad)


def test_logging_config_text_and_json_and_bad_values() -> None:
    record = logging.LogRecord("app", logging.WARNING, "f.py", 7, "careful", (), None)
    record.user_id = "u1"
    text = LoggingConfig(additional_log_standard_attrs=["user_id"]).formatter().format(record)
    assert "WARNING f.py:7 -- careful" in text and "user_id=u1" in text and f"process={os.getpid()}" in text
    parsed = json.loads(LoggingConfig(encoding="JSON").formatter().format(record))
    assert parsed["levelname"] == "WARNING" and parsed["message"] == "careful" and parsed["process"] == os.getpid()
    with pytest.raises(ValueError, match="log_level='LOUD'"):
        LoggingConfig(log_level="LOUD")
    with pytest.raises(TypeError, match="logging_config must be a LoggingConfig"):
        coerce("JSON")
    assert coerce({"encoding": "JSON"}).encoding == "JSON"


def test_state_filters_and_summaries() -> None:
    rows = [{"task_id": "1", "name": "f", "state": "RUNNING", "type": "NORMAL_TASK", "worker_pid": 5},
            {"task_id": "2", "name": "g", "state": "FINISHED", "type": "ACTOR_TASK", "worker_pid": 6}]
    assert [r["task_id"] for r in state.apply_filters(rows, state.TaskState, [("worker_pid", "=", 6)])] == ["2"]
    assert [r["task_id"] for r in state.apply_filters(rows, state.TaskState, [("worker_pid", "=", "5")])] == ["1"]
    with pytest.raises(ValueError, match="filters must be"):
        state.apply_filters(rows, state.TaskState, ["state=RUNNING"])
    summary = state.summarize_task_rows(rows)["cluster"]
    assert summary["total_tasks"] == 1 and summary["total_actor_tasks"] == 1
    built = state.build(rows, state.TaskState, None, 10, False, "tasks")
    assert built[0]["name"] == "f" and built[0].get("start_time_ms") is None and built[0].asdict()["task_id"] == "1"


def test_log_to_driver_false_keeps_worker_lines_off_the_driver_but_in_the_files(tmp_path: Any) -> None:
    script = (
        "import os, streamdata as sd\n"
        "info = sd.init(num_cpus=1, log_to_driver=False)\n"
        "@sd.remote\n"
        "def f():\n"
        "    print('quiet-marker-77', flush=True)\n"
        "    return os.getpid()\n"
        "pid = sd.get(f.remote())\n"
        "sd.shutdown()\n"
        "logs = os.path.join(info['session_dir'], 'logs')\n"
        "print('FOUND' if any('quiet-marker-77' in open(os.path.join(logs, n)).read() for n in os.listdir(logs)"
        " if n.endswith(f'-{pid}.out')) else 'MISSING')\n")
    env = dict(os.environ, STREAMDATA_TEMP_DIR=str(tmp_path), PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "FOUND"
    assert "quiet-marker-77" not in out.stdout + out.stderr
    with pytest.raises(TypeError, match="log_to_driver must be True or False"):
        import streamdata as sd
        sd.init(num_cpus=1, log_to_driver="no")


def test_bad_dashboard_and_metrics_ports_fail_init_and_leave_no_runtime() -> None:
    import streamdata as sd
    if sd.is_initialized():
        sd.shutdown()
    with pytest.raises(ValueError, match="dashboard_port must be an int port"):
        sd.init(num_cpus=1, include_dashboard=True, dashboard_port=-5)
    assert not sd.is_initialized()
    with pytest.raises(ValueError, match="_metrics_export_port must be an int port"):
        sd.init(num_cpus=1, _metrics_export_port="8080")
    assert not sd.is_initialized()
