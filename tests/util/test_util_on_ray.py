"""``streamdata.util`` on a real (local) Ray instance: ``sd.init(backend="ray")``."""

from __future__ import annotations

import pytest

import streamdata as sd
from streamdata import util
from streamdata.util.multiprocessing import Pool
from streamdata.util.queue import Empty, Queue

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def on_ray():
    if sd.is_initialized():
        sd.shutdown()
    # metrics reach Ray's agent every 0.2 s (default 10 s): the custom-metrics test stays quick
    sd.init(backend="ray", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning",
            _system_config={"metrics_report_interval_ms": 200})

    class Doubler:  # made remote once the Ray backend is chosen (sd.remote then gives Ray's actor class)
        def double(self, x):
            return 2 * x

    yield sd.remote(num_cpus=0)(Doubler)
    sd.shutdown()


def test_actor_pool_queue_and_pool_run_on_ray(on_ray) -> None:
    Doubler = on_ray
    pool = util.ActorPool([Doubler.remote(), Doubler.remote()])
    assert list(pool.map(lambda a, v: a.double.remote(v), range(4))) == [0, 2, 4, 6]
    q = Queue(maxsize=2)
    q.put_nowait_batch([1, 2])
    assert q.get(timeout=30) == 1 and q.get_nowait() == 2
    with pytest.raises(Empty):
        q.get_nowait()
    q.shutdown()
    with Pool(processes=2) as processes:
        assert processes.map(abs, [-1, -2, -3]) == [1, 2, 3]


def test_lookups_delegate_to_ray(on_ray) -> None:
    Doubler = on_ray
    named = Doubler.options(name="util-on-ray").remote()
    assert sd.get(named.double.remote(2)) == 4
    assert "util-on-ray" in util.list_named_actors()
    assert util.get_node_ip_address() == ray.util.get_node_ip_address()
    pg = util.placement_group([{"CPU": 1}], name="util-ray-pg")
    assert sd.get(pg.ready(), timeout=60)
    assert any(t["name"] == "util-ray-pg" for t in util.placement_group_table().values())
    assert util.get_placement_group("util-ray-pg").id == pg.id
    util.remove_placement_group(pg)


def _ray_samples(port: int) -> list:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    return [s for f in text_string_to_metric_families(text) if f.name.startswith("ray_sd_on_ray_")
            for s in f.samples]


def test_custom_metrics_go_to_rays_own_metrics(on_ray) -> None:
    import time

    from streamdata.errors import RuntimeSystemError
    from streamdata.util.metrics import Counter, Gauge, Histogram, collect

    requests = Counter("sd_on_ray_requests", description="requests served", tag_keys=("route",))
    requests.set_default_tags({"route": "/"})
    depth = Gauge("sd_on_ray_depth", description="queue depth", tag_keys=("who",))
    latency = Histogram("sd_on_ray_latency_s", boundaries=[0.1, 1.0], tag_keys=("route",))

    class Server:  # an actor: it lives until the end, so Ray keeps its series (a task's worker may exit)
        def serve(self, n):
            for _ in range(n):
                requests.inc()
                latency.observe(0.5, tags={"route": "/a"})
            depth.set(7, tags={"who": "actor"})
            return n

    server = sd.remote(num_cpus=0)(Server).remote()
    assert sd.get([server.serve.remote(2), server.serve.remote(3)]) == [2, 3]
    requests.inc(4, tags={"route": "/driver"})  # the driver records to Ray too
    with pytest.raises(ValueError, match="Missing value for tag key"):
        depth.set(1)  # Ray's argument checks hold as before
    with pytest.raises(RuntimeSystemError, match="metrics_export_port"):
        collect()

    port = ray.nodes()[0]["MetricsExportPort"]

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))

    want = {("ray_sd_on_ray_requests_total", (("route", "/"),)): 5.0,
            ("ray_sd_on_ray_requests_total", (("route", "/driver"),)): 4.0,
            ("ray_sd_on_ray_latency_s_count", (("route", "/a"),)): 5.0,
            ("ray_sd_on_ray_latency_s_bucket", (("le", "1.0"), ("route", "/a"))): 5.0,
            ("ray_sd_on_ray_latency_s_bucket", (("le", "0.1"), ("route", "/a"))): 0.0}
    deadline = time.monotonic() + 60  # every recording process reports on its own schedule
    while True:
        samples = _ray_samples(port)
        got = {key: total(key[0], **dict(key[1])) for key in want}
        gauges = [s.value for s in samples if s.name == "ray_sd_on_ray_depth" and s.labels.get("who") == "actor"]
        if got == want and gauges:
            break
        assert time.monotonic() < deadline, (f"Ray's metrics agent has {got} and gauges {gauges}, want {want}; "
                                             f"{[(s.name, s.labels) for s in samples if 'depth' in s.name]}")
        time.sleep(0.1)
    assert set(gauges) == {7.0}
    sd.kill(server)
