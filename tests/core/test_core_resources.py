"""Resources and placement groups: 2 CPUs, 2 GPUs declared on a machine without any, one custom slot."""

from __future__ import annotations

import os

import pytest
from _core_util import block_until_file, gone, read_text, rendezvous, touch, wait_for

import streamdata as sd
from streamdata.exceptions import ActorDiedError, InfeasibleResourceError, PlacementGroupError

RUNTIME_INIT = {"num_cpus": 2, "num_gpus": 2, "resources": {"slot": 1}}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]

PGStrategy = sd.PlacementGroupSchedulingStrategy


@sd.remote
def gpu_view(meet_dir: str | None = None, parties: int = 0) -> dict:
    met = rendezvous(meet_dir, parties) if meet_dir else True
    return {"ids": sd.get_gpu_ids(), "cvd": os.environ.get("CUDA_VISIBLE_DEVICES"), "met": met,
            "pid": os.getpid()}


@sd.remote
def hold(started: str, release: str, value: object = None) -> object:
    touch(started, str(os.getpid()))
    block_until_file(release)
    return value


def _available(name: str) -> float:
    return sd.available_resources().get(name, 0.0)


def test_cluster_resources() -> None:
    total = sd.cluster_resources()
    assert total["CPU"] == 2.0 and total["GPU"] == 2.0 and total["slot"] == 1.0
    assert total["memory"] > 0 and total["object_store_memory"] > 0
    wait_for(lambda: sd.available_resources() == {k: v for k, v in total.items() if v},
             what="everything to be available")


# --------------------------------------------------------------------------- GPUs


def test_gpu_tasks_get_one_distinct_gpu_each(tmp_path) -> None:
    refs = [gpu_view.options(num_gpus=1).remote(str(tmp_path / "meet"), 2) for _ in range(2)]
    a, b = sd.get(refs, timeout=60)
    assert a["met"] and b["met"], "the two GPU tasks did not run at the same time"
    assert len(a["ids"]) == 1 and len(b["ids"]) == 1
    assert a["ids"] != b["ids"] and {a["ids"][0], b["ids"][0]} == {0, 1}
    for info in (a, b):
        assert info["cvd"] == str(info["ids"][0])


def test_two_gpu_task_sees_both() -> None:
    info = sd.get(gpu_view.options(num_gpus=2).remote())
    assert sorted(info["ids"]) == [0, 1]
    assert sorted(info["cvd"].split(",")) == ["0", "1"]


def test_fractional_gpus_share(tmp_path) -> None:
    # two half-GPU tasks run at once on one GPU (the runtime packs fractions, as Ray does)
    refs = [gpu_view.options(num_gpus=0.5).remote(str(tmp_path / "meet"), 2) for _ in range(2)]
    halves = sd.get(refs, timeout=60)
    assert all(i["met"] for i in halves), "two half-GPU tasks did not run at once"
    assert all(len(i["ids"]) == 1 and i["cvd"] == str(i["ids"][0]) for i in halves)
    assert halves[0]["ids"] == halves[1]["ids"]
    # with half of GPU 0 taken, a whole-GPU task gets the other GPU
    release = str(tmp_path / "release")
    held = hold.options(num_gpus=0.5).remote(str(tmp_path / "started"), release, "held")
    wait_for(lambda: read_text(str(tmp_path / "started")), what="the half-GPU task to start")
    assert _available("GPU") == pytest.approx(1.5)
    whole = sd.get(gpu_view.options(num_gpus=1).remote(), timeout=60)
    assert len(whole["ids"]) == 1
    touch(release)
    assert sd.get(held) == "held"


def test_no_gpu_ids_without_a_gpu_request() -> None:
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        pytest.skip("the driver's own environment sets CUDA_VISIBLE_DEVICES")
    sd.get([gpu_view.options(num_gpus=1).remote() for _ in range(4)])
    infos = sd.get([gpu_view.remote() for _ in range(8)])
    assert all(i["ids"] == [] for i in infos)
    assert all(i["cvd"] is None for i in infos), "a GPU task's CUDA_VISIBLE_DEVICES leaked into a later task"


def test_available_resources_drop_while_held(tmp_path) -> None:
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    ref = hold.options(num_gpus=1, num_cpus=1).remote(started, release, "done")
    wait_for(lambda: read_text(started), what="the task to start")
    assert _available("GPU") == pytest.approx(1.0) and _available("CPU") == pytest.approx(1.0)
    touch(release)
    assert sd.get(ref) == "done"
    wait_for(lambda: _available("GPU") == pytest.approx(2.0) and _available("CPU") == pytest.approx(2.0),
             what="the resources to come back")


def test_gpu_actor() -> None:
    @sd.remote(num_gpus=1)
    class GpuActor:
        def view(self):
            return sd.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

    actor = GpuActor.remote()
    ids, cvd = sd.get(actor.view.remote())
    assert len(ids) == 1 and cvd == str(ids[0])
    assert _available("GPU") == pytest.approx(1.0)
    other = sd.get(gpu_view.options(num_gpus=1).remote())
    assert other["ids"] != ids
    sd.kill(actor)
    wait_for(lambda: _available("GPU") == pytest.approx(2.0), what="the actor's GPU to come back")


# --------------------------------------------------------------------------- custom resources


def test_custom_resource_limits_concurrency(tmp_path) -> None:
    release = str(tmp_path / "release")
    first_started, second_started = str(tmp_path / "s1"), str(tmp_path / "s2")
    first = hold.options(resources={"slot": 1}, num_cpus=0).remote(first_started, release, 1)
    wait_for(lambda: read_text(first_started), what="the first task to start")
    assert _available("slot") == 0.0
    second = hold.options(resources={"slot": 1}, num_cpus=0).remote(second_started, release, 2)
    ready, _ = sd.wait([second], timeout=0.3)
    assert ready == [] and read_text(second_started) is None, "two tasks held the one slot at once"
    touch(release)
    assert sd.get([first, second], timeout=60) == [1, 2]
    wait_for(lambda: _available("slot") == 1.0, what="the slot to come back")


def test_fractional_custom_resource(tmp_path) -> None:
    refs = [gpu_view.options(resources={"slot": 0.5}, num_cpus=0).remote(str(tmp_path / "meet"), 2)
            for _ in range(2)]
    assert all(i["met"] for i in sd.get(refs, timeout=60))


# --------------------------------------------------------------------------- placement groups


@pytest.mark.parametrize("strategy", ["PACK", "SPREAD", "STRICT_PACK"])
def test_placement_group_reserves_and_releases(strategy: str) -> None:
    pg = sd.placement_group([{"CPU": 1}, {"CPU": 1}], strategy=strategy)
    try:
        assert sd.get(pg.ready(), timeout=30) is True
        assert pg.wait(5) and pg.bundle_count == 2
        assert sd.placement_group_table(pg)["state"] == "CREATED"
        assert _available("CPU") == 0.0
        refs = [gpu_view.options(scheduling_strategy=PGStrategy(pg, i)).remote() for i in (0, 1)]
        assert all(i["ids"] == [] for i in sd.get(refs, timeout=30))
    finally:
        sd.remove_placement_group(pg)
    wait_for(lambda: _available("CPU") == 2.0, what="the reserved CPUs to come back")


def test_strict_spread_needs_one_node_per_bundle() -> None:
    pg = sd.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    with pytest.raises(PlacementGroupError, match="STRICT_SPREAD"):
        sd.get(pg.ready(), timeout=30)
    sd.remove_placement_group(pg)
    single = sd.placement_group([{"CPU": 1}], strategy="STRICT_SPREAD")
    assert sd.get(single.ready(), timeout=30) is True
    sd.remove_placement_group(single)
    wait_for(lambda: _available("CPU") == 2.0, what="the CPUs to come back")


def test_infeasible_bundle_is_an_error() -> None:
    pg = sd.placement_group([{"CPU": 64}])
    with pytest.raises(PlacementGroupError):
        sd.get(pg.ready(), timeout=30)
    sd.remove_placement_group(pg)
    with pytest.raises(ValueError):
        sd.placement_group([{"CPU": 1}], strategy="NOPE")


def test_task_outside_the_group_waits_for_its_resources(tmp_path) -> None:
    pg = sd.placement_group([{"CPU": 2}])
    sd.get(pg.ready(), timeout=30)
    outside = hold.remote(str(tmp_path / "started"), str(tmp_path / "release"), "ran")
    touch(str(tmp_path / "release"))
    ready, _ = sd.wait([outside], timeout=0.3)
    assert ready == [], "a task used CPUs reserved by a placement group"
    sd.remove_placement_group(pg)
    assert sd.get(outside, timeout=30) == "ran"


def test_pending_group_becomes_ready_when_resources_free() -> None:
    first = sd.placement_group([{"CPU": 2}])
    sd.get(first.ready(), timeout=30)
    second = sd.placement_group([{"CPU": 1}, {"GPU": 1}])
    ready, _ = sd.wait([second.ready()], timeout=0.3)
    assert ready == []
    assert sd.placement_group_table(second)["state"] == "PENDING"
    sd.remove_placement_group(first)
    assert sd.get(second.ready(), timeout=30) is True
    sd.remove_placement_group(second)
    wait_for(lambda: _available("CPU") == 2.0 and _available("GPU") == 2.0, what="resources to come back")


def test_scheduling_into_a_bundle(tmp_path) -> None:
    pg = sd.placement_group([{"CPU": 1}, {"CPU": 1, "GPU": 1}])
    try:
        sd.get(pg.ready(), timeout=30)
        assert _available("GPU") == pytest.approx(1.0)
        info = sd.get(gpu_view.options(num_gpus=1, scheduling_strategy=PGStrategy(pg, 1)).remote(), timeout=30)
        assert len(info["ids"]) == 1 and info["cvd"] == str(info["ids"][0])
        # the Ray-1 style options
        info2 = sd.get(gpu_view.options(num_gpus=1, placement_group=pg, placement_group_bundle_index=1).remote(),
                       timeout=30)
        assert info2["ids"] == info["ids"]
        with pytest.raises(ValueError, match="bundle_index"):
            gpu_view.options(scheduling_strategy=PGStrategy(pg, 2)).remote()
        # bundle 0 has one CPU: two one-CPU tasks in it run one after the other
        release = str(tmp_path / "release")
        s1, s2 = str(tmp_path / "s1"), str(tmp_path / "s2")
        in_bundle = hold.options(scheduling_strategy=PGStrategy(pg, 0))
        a = in_bundle.remote(s1, release, "a")
        wait_for(lambda: read_text(s1), what="the first bundle task to start")
        b = in_bundle.remote(s2, release, "b")
        ready, _ = sd.wait([b], timeout=0.3)
        assert ready == [] and read_text(s2) is None
        touch(release)
        assert sd.get([a, b], timeout=30) == ["a", "b"]
    finally:
        sd.remove_placement_group(pg)
    wait_for(lambda: _available("CPU") == 2.0 and _available("GPU") == 2.0, what="resources to come back")


def test_removing_a_group_kills_its_actors() -> None:
    @sd.remote(num_cpus=1)
    class InGroup:
        def pid(self):
            return os.getpid()

    pg = sd.placement_group([{"CPU": 1}])
    sd.get(pg.ready(), timeout=30)
    actor = InGroup.options(scheduling_strategy=PGStrategy(pg)).remote()
    pid = sd.get(actor.pid.remote(), timeout=30)
    sd.remove_placement_group(pg)
    wait_for(lambda: gone(pid), what="the actor's process to exit")
    with pytest.raises(ActorDiedError):
        sd.get(actor.pid.remote(), timeout=30)
    assert sd.placement_group_table(pg)["state"] == "REMOVED"
    wait_for(lambda: _available("CPU") == 2.0, what="the CPU to come back")


def test_gpu_ids_in_threaded_and_async_actors() -> None:
    @sd.remote(num_gpus=1, max_concurrency=2)
    class Threaded:
        def ids(self):
            return sd.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

    @sd.remote(num_gpus=1)
    class Async:
        async def ids(self):
            return sd.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

    t, a = Threaded.remote(), Async.remote()
    try:
        (t_ids, t_cvd), (a_ids, a_cvd) = sd.get([t.ids.remote(), a.ids.remote()], timeout=60)
        assert len(t_ids) == 1 and t_cvd == str(t_ids[0])
        assert len(a_ids) == 1 and a_cvd == str(a_ids[0])
        assert t_ids != a_ids
    finally:
        sd.kill(t)
        sd.kill(a)
    wait_for(lambda: _available("GPU") == pytest.approx(2.0), what="the GPUs to come back")


@pytest.mark.parametrize("options, short", [
    ({"num_cpus": 100}, "CPU 100 > 2"),
    ({"num_gpus": 4}, "GPU 4 > 2"),
    ({"resources": {"absent": 1}}, "absent 1 > 0"),
])
def test_a_request_no_resource_can_ever_meet_fails_at_once(options: dict, short: str) -> None:
    ref = gpu_view.options(**options).remote()
    with pytest.raises(InfeasibleResourceError, match=short) as info:
        sd.get(ref, timeout=30)  # at once: a hang would be a GetTimeoutError
    assert "gpu_view" in str(info.value) and "'CPU': 2.0" in str(info.value)


def test_an_actor_no_resource_can_ever_meet_fails_at_once() -> None:
    @sd.remote(num_cpus=100)
    class Big:
        def ping(self) -> int:
            return 1

    with pytest.raises(InfeasibleResourceError, match="CPU 100 > 2"):
        sd.get(Big.remote().ping.remote(), timeout=30)


def test_an_infeasible_bundle_names_what_the_machine_has() -> None:
    pg = sd.placement_group([{"CPU": 1}, {"slot": 2}])
    with pytest.raises(InfeasibleResourceError, match="bundle 1.*slot 2 > 1"):
        sd.get(pg.ready(), timeout=30)
    sd.remove_placement_group(pg)


def test_a_data_stage_no_resource_can_ever_meet_fails_at_once() -> None:
    ds = sd.range(10).map_batches(lambda b: b, resources={"absent": 1})
    with pytest.raises(InfeasibleResourceError, match="MapBatches.*absent 1 > 0"):
        ds.take_all()
