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
    sd.init(backend="ray", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")

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
