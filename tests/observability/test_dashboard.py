"""The dashboard (``sd.init(include_dashboard=True)``): its page, live fragment and JSON state API
over real HTTP; no data value ever shows; every listener is on loopback; session logs."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

import psutil
import pytest

import streamdata as sd
from _obs_util import wait_until

RUNTIME_INIT = {"num_cpus": 2, "include_dashboard": True, "dashboard_port": 0, "_metrics_export_port": 0}

#: values no dashboard response may contain (they are data, not metadata)
SECRET_TEXT = "zq-secret-7f3a9c41"
SECRET_NUMBER = 918273645.5


def _get(url: str) -> str:
    return urllib.request.urlopen(url, timeout=30).read().decode()


def test_init_reports_the_urls_and_the_page_shows_a_dataset(runtime: dict) -> None:
    url = runtime["dashboard_url"]
    assert url.startswith("http://127.0.0.1:") and runtime["webui_url"] == url[len("http://"):]
    sd.range(3000, override_num_blocks=3).map_batches(lambda b: b).materialize()
    page = _get(url + "/")
    assert "<h2>Datasets</h2>" in page and "fetch('/fragment')" in page
    assert "3,000" in page and "ReadRange-&gt;MapBatches(&lt;lambda&gt;)" in page  # escaped operator name
    snap = json.loads(_get(url + "/api/snapshot"))
    ds = snap["datasets"][-1]
    assert ds["state"] == "FINISHED" and ds["operators"][-1]["rows_out"] == 3000
    assert ds["operators"][-1]["tasks"] == 3 and ds["budget_bytes"] > 0
    assert snap["resources"]["total"]["CPU"] == 2.0


def test_the_state_api_over_http_is_shaped_as_rays(runtime: dict) -> None:
    @sd.remote
    def listed() -> int:
        return 1

    sd.get([listed.remote() for _ in range(3)])
    url = runtime["dashboard_url"]
    body = json.loads(_get(url + "/api/v0/tasks?limit=1000&filter_keys=name&filter_predicates=%3D"
                                 "&filter_values=listed&detail=true"))
    rows = body["data"]["result"]["result"]
    assert body["result"] is True and len(rows) == 3 and {r["state"] for r in rows} == {"FINISHED"}
    assert all(r["start_time_ms"] <= r["end_time_ms"] for r in rows)
    workers = json.loads(_get(url + "/api/v0/workers"))["data"]["result"]["result"]
    assert {w["pid"] for w in workers} >= {r["worker_pid"] for r in rows}
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(url + "/api/v0/tasks?filter_keys=bogus&filter_predicates=%3D&filter_values=1")
    assert err.value.code == 400 and "bogus" in err.value.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(url + "/logs/..%2F..%2Fetc%2Fpasswd")
    assert err.value.code == 404


def test_no_data_value_appears_in_any_dashboard_response(runtime: dict) -> None:
    ds = sd.from_items([{"secret": SECRET_TEXT, "amount": SECRET_NUMBER, "id": i} for i in range(200)])
    ds = ds.map_batches(lambda b: b).materialize()
    assert SECRET_TEXT in str(ds.take(1))  # the value is really there

    @sd.remote
    def returns_secret() -> str:
        return SECRET_TEXT * 1000  # a large object in the store

    ref = returns_secret.remote()
    sd.get(ref)
    keeper = sd.put({"amount": SECRET_NUMBER, "secret": SECRET_TEXT})
    url = runtime["dashboard_url"]
    snap = json.loads(_get(url + "/api/snapshot"))
    bodies = [_get(url + p) for p in ("/", "/fragment", "/api/snapshot", "/metrics")]
    bodies += [_get(f"{url}/api/v0/{r}?detail=true&limit=10000")
               for r in ("tasks", "actors", "objects", "placement_groups", "workers")]
    bodies += [_get(f"{url}/logs/{entry['file']}") for entry in snap["logs"]]
    bodies.append(_get(f"http://127.0.0.1:{runtime['metrics_export_port']}/metrics"))
    for body in bodies:
        assert SECRET_TEXT not in body
        assert str(SECRET_NUMBER) not in body and "918273645" not in body
    del keeper, ref


def _listening(pids: set[int]) -> list[tuple[int, str]]:
    out = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            out.append((conn.pid, conn.laddr.ip))
    return out


def test_every_listener_binds_loopback_including_serve(runtime: dict) -> None:
    from streamdata import serve
    from streamdata.util.metrics import Counter

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Echo:
        def __init__(self) -> None:
            self.calls = Counter("test_echo_calls", tag_keys=("app",)).set_default_tags({"app": "echo"})

        async def __call__(self, request: Any) -> str:
            self.calls.inc()
            return "ok"

    serve.start(http_options={"port": 0})
    try:
        serve.run(Echo.bind(), name="echo", route_prefix="/echo")
        address = serve.http_address()
        assert _get(address + "/echo") == "ok" and _get(address + "/echo") == "ok"
        me = psutil.Process()
        pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
        listeners = _listening(pids)
        if not listeners and sys.platform.startswith("linux"):
            pytest.skip("psutil cannot see this process's sockets here")
        assert len(listeners) >= 3  # the dashboard, the metrics endpoint, serve's HTTP proxy
        assert all(ip == "127.0.0.1" for _, ip in listeners), listeners
        url = runtime["dashboard_url"]
        section = wait_until(lambda: "RUNNING" in (s := _get(url + "/fragment").split('id="serve"')[1]) and s,
                             what="the serve application RUNNING on the page")
        assert "echo" in section and "Echo" in section
        from streamdata.util.metrics import collect
        wait_until(lambda: collect()["values"].get(("test_echo_calls", (("app", "echo"),))) == 2.0,
                   what="the replica's counter at 2")
        files = [e["file"] for e in json.loads(_get(url + "/api/snapshot"))["logs"]]
        controller = [f for f in files if f.startswith("serve/controller_")]
        assert controller and any(f.startswith("serve/replica_echo_Echo_") for f in files), files
        assert "of Echo started" in _get(f"{url}/logs/{controller[0]}")
    finally:
        serve.shutdown()


def test_session_logs_hold_each_workers_output(runtime: dict, capfd: pytest.CaptureFixture) -> None:
    session = runtime["session_dir"]
    latest = os.path.join(os.path.dirname(session), "session_latest")
    assert os.path.realpath(latest) == os.path.realpath(session)
    assert os.path.dirname(session) == os.environ["STREAMDATA_TEMP_DIR"]

    @sd.remote
    def chatty() -> int:
        print("out-marker-51")
        print("err-marker-52", file=sys.stderr)
        return os.getpid()

    pid = sd.get(chatty.remote())
    logs = os.path.join(session, "logs")

    def find(marker: str, ext: str) -> str | None:
        for name in os.listdir(logs):
            if name.endswith(f"-{pid}.{ext}") and marker in open(os.path.join(logs, name)).read():
                return name
        return None

    out_file = wait_until(lambda: find("out-marker-51", "out"), what="the worker's .out log")
    assert wait_until(lambda: find("err-marker-52", "err"), what="the worker's .err log")
    assert "out-marker-51" in _get(f"{runtime['dashboard_url']}/logs/{out_file}")
    wait_until(lambda: "out-marker-51" in capfd.readouterr().out or None, timeout=10,
               what="the line echoed on the driver (log_to_driver=True)")


def _train_loop(config: dict) -> None:
    from streamdata import train
    for step in range(3):
        train.report({"step": step + 1, "loss": 1.0 / (step + 1)})


def test_a_training_run_shows_with_its_reported_metrics(runtime: dict, tmp_path: Any) -> None:
    from streamdata import train
    trainer = train.DataParallelTrainer(
        _train_loop, train_loop_config={},
        scaling_config=train.ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5}),
        run_config=train.RunConfig(name="obs_run", storage_path=str(tmp_path)))
    assert trainer.fit().metrics["step"] == 3
    snap = json.loads(_get(runtime["dashboard_url"] + "/api/snapshot"))
    [run] = [r for r in snap["train"] if r["name"] == "obs_run"]
    assert run["state"] == "FINISHED" and run["num_reports"] == 3
    assert [m["step"] for m in run["metrics"]] == [1, 2, 3] and run["metrics"][-1]["loss"] == pytest.approx(1 / 3)
    page = _get(runtime["dashboard_url"] + "/fragment")
    assert "obs_run" in page.split('id="train"')[1]
