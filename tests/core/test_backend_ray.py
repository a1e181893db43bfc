"""The runtime API on a real (local) Ray instance: sd.init(backend="ray")."""

from __future__ import annotations

import os

import pytest

import streamdata as sd

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def on_ray():
    if sd.is_initialized():
        sd.shutdown()
    # every ray.init argument passes through (issue 15: runtime_env and namespace were dropped)
    sd.init(backend="ray", num_cpus=2, namespace="sd-ray-ns", include_dashboard=False,
            runtime_env={"env_vars": {"SD_RAY_VAR": "from-init"}}, logging_level="warning",
            log_to_driver=False)
    yield
    sd.shutdown()


def test_tasks_objects_and_nested_calls_run_on_ray(on_ray):
    @sd.remote
    def plus_one(x):
        # inside a Ray worker, streamdata's API talks to Ray too
        return sd.get(sd.put(x)) + 1

    refs = [plus_one.remote(i) for i in range(4)]
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    ready, not_ready = sd.wait(refs, num_returns=4, timeout=60)
    assert len(ready) == 4 and not not_ready
    assert sd.get(refs) == [1, 2, 3, 4]


def test_actors_errors_and_resources_on_ray(on_ray):
    @sd.remote
    class Counter:
        def __init__(self):
            self.n = 0

        def incr(self):
            self.n += 1
            return self.n

    c = Counter.remote()
    assert sd.get([c.incr.remote() for _ in range(3)]) == [1, 2, 3]

    @sd.remote(max_retries=0)
    def fail():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        sd.get(fail.remote())
    with pytest.raises(sd.exceptions.GetTimeoutError):
        @sd.remote
        def slow():
            import time
            time.sleep(30)
        sd.get(slow.remote(), timeout=0.1)
    assert sd.cluster_resources()["CPU"] == 2.0
    assert sd.object_store_stats()["capacity_bytes"] > 0


def test_init_arguments_reach_ray(on_ray):
    @sd.remote
    def env_var():
        return os.environ.get("SD_RAY_VAR")

    assert sd.get(env_var.remote(), timeout=60) == "from-init"
    assert sd.get_runtime_context().namespace == "sd-ray-ns"
    assert ray.get_runtime_context().namespace == "sd-ray-ns"
    [node] = sd.nodes()
    assert node["Alive"] and node["Resources"]["CPU"] == 2.0


def test_a_data_udf_error_on_ray_names_the_operator(on_ray):
    def broken(batch):
        raise ValueError("bad batch on ray")

    with pytest.raises(ValueError) as info:
        sd.range(4).map_batches(broken).take(1)
    first = str(info.value).splitlines()[0]
    assert "MapBatches(broken) failed" in first and "ValueError: bad batch on ray" in first
    assert "ray::" not in first and "map_task_entry" not in first
    assert str(info.value).count("ValueError: bad batch on ray") == 1
