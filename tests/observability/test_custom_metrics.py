"""Custom metrics (``streamdata.util.metrics``) recorded in the driver, tasks and actors, aggregated
by the driver's runtime, and the Prometheus endpoint (``_metrics_export_port``) parsed with
prometheus_client's own parser."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

import streamdata as sd
from _obs_util import wait_until
from streamdata.util.metrics import Counter, Gauge, Histogram, collect

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

RUNTIME_INIT = {"num_cpus": 2, "_metrics_export_port": 0}

REQUESTS = Counter("test_requests", description="requests served", tag_keys=("route",))
LATENCY = Histogram("test_latency_s", description="latency", boundaries=[0.1, 1.0, 10.0], tag_keys=("route",))
QUEUE = Gauge("test_queue_depth", description="queue depth", tag_keys=("who",))


@sd.remote
def serve_requests(route: str, n: int, seconds: float) -> None:
    for _ in range(n):
        REQUESTS.inc(tags={"route": route})
        LATENCY.observe(seconds, tags={"route": route})


@sd.remote
class Worker:
    def __init__(self) -> None:
        self.handled = Counter("test_actor_calls", tag_keys=("actor",)).set_default_tags({"actor": "w"})

    def handle(self, n: int) -> None:
        for _ in range(n):
            self.handled.inc()
        QUEUE.set(float(n), tags={"who": "actor"})


def _value(name: str, tags: tuple = ()) -> Any:
    return collect()["values"].get((name, tags))


def test_counters_and_histograms_from_tasks_add_up(runtime: dict) -> None:
    sd.get([serve_requests.remote("/a", 50, 0.05) for _ in range(4)] + [serve_requests.remote("/b", 10, 5.0)])
    REQUESTS.inc(3, tags={"route": "/a"})  # the driver's own recordings count too
    wait_until(lambda: _value("test_requests", (("route", "/a"),)) == 203.0, what="200 + 3 requests on /a")
    # each worker ships its recordings on its own schedule: /b's worker may report after /a's
    wait_until(lambda: _value("test_requests", (("route", "/b"),)) == 10.0, what="10 requests on /b")
    buckets, total, count = wait_until(lambda: (_value("test_latency_s", (("route", "/b"),)) or (0, 0, 0))[2] == 10
                                       and _value("test_latency_s", (("route", "/b"),)), what="10 observations")
    assert buckets == [0, 0, 10, 0] and total == pytest.approx(50.0) and count == 10
    buckets_a = wait_until(lambda: (_value("test_latency_s", (("route", "/a"),)) or (0, 0, 0))[2] == 200
                           and _value("test_latency_s", (("route", "/a"),)), what="200 observations")[0]
    assert buckets_a == [200, 0, 0, 0]


def test_actor_metrics_and_gauges(runtime: dict) -> None:
    worker = Worker.remote()
    sd.get([worker.handle.remote(5), worker.handle.remote(7)])
    wait_until(lambda: _value("test_actor_calls", (("actor", "w"),)) == 12.0, what="12 actor calls")
    wait_until(lambda: _value("test_queue_depth", (("who", "actor"),)) == 7.0, what="the last gauge value")
    QUEUE.set(1.5, tags={"who": "driver"})
    assert _value("test_queue_depth", (("who", "driver"),)) == 1.5


def test_bad_metric_use_gets_ray_errors() -> None:
    with pytest.raises(ValueError, match="Missing value for tag key"):
        REQUESTS.inc()
    with pytest.raises(ValueError, match="value must be >0"):
        REQUESTS.inc(0, tags={"route": "/"})
    with pytest.raises(TypeError, match="Tag values must be str"):
        REQUESTS.inc(1, tags={"route": 3})
    with pytest.raises(ValueError, match="Unrecognized tag key"):
        REQUESTS.set_default_tags({"nope": "x"})
    with pytest.raises(TypeError, match="tag_keys should be a tuple"):
        Counter("x", tag_keys=["a"])
    with pytest.raises(ValueError, match="boundaries argument should be provided"):
        Histogram("h")
    with pytest.raises(ValueError, match="positive values"):
        Histogram("h", boundaries=[0, 1])
    with pytest.raises(TypeError, match="value must be int or float"):
        QUEUE.set("high", tags={"who": "x"})
    with pytest.warns(UserWarning, match="Invalid metric name"):
        Counter("bad name").inc()  # discarded, as Ray does
    assert Gauge("g").set(None) is None
    assert REQUESTS.info == {"name": "test_requests", "description": "requests served",
                             "tag_keys": ("route",), "default_tags": {}}


def test_the_metrics_endpoint_serves_runtime_data_and_custom_metrics(runtime: dict) -> None:
    port = runtime["metrics_export_port"]
    sd.range(2000, override_num_blocks=4).map_batches(lambda b: b).materialize()
    REQUESTS.inc(tags={"route": "/scrape"})
    for seconds in (0.05, 5.0, 50.0):
        LATENCY.observe(seconds, tags={"route": "/scrape"})
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("ray_tasks", "ray_actors", "ray_object_store_memory", "ray_resources", "ray_data_output_rows",
                 "ray_data_output_bytes", "ray_data_task_submission_backpressure_time", "ray_test_requests",
                 "ray_test_latency_s"):
        assert name in families, name
    assert families["ray_test_requests"].type == "counter"
    scrape = [s for s in families["ray_test_requests"].samples if s.labels == {"route": "/scrape"}]
    assert scrape[0].name == "ray_test_requests_total" and scrape[0].value == 1.0
    rows = [s for s in families["ray_data_output_rows"].samples if "MapBatches" in s.labels["operator"]]
    assert rows and rows[-1].value == 2000.0
    finished = [s for s in families["ray_tasks"].samples if s.labels["State"] == "FINISHED"]
    assert sum(s.value for s in finished) >= 4
    cpu = {s.labels["State"]: s.value for s in families["ray_resources"].samples if s.labels["Name"] == "CPU"}
    assert cpu["USED"] + cpu["AVAILABLE"] == 2.0
    hist = {s.labels.get("le"): s.value for s in families["ray_test_latency_s"].samples
            if s.name.endswith("_bucket") and s.labels["route"] == "/scrape"}
    assert hist == {"0.1": 1.0, "1.0": 1.0, "10.0": 2.0, "+Inf": 3.0}
