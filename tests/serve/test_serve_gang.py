"""Gang scheduling (``@serve.deployment(gang_scheduling_config=GangSchedulingConfig(...))``):
Ray Serve's validation, replicas started in gangs with their gang context, and a dead
member restarting its whole gang (``RESTART_GANG``)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from streamdata import serve
from streamdata.serve.config import GangPlacementStrategy, GangRuntimeFailurePolicy, GangSchedulingConfig
from streamdata.serve.gang import (
    GangContext,
    gang_bundles,
    gangs_to_start,
    gangs_to_stop,
    incomplete_gangs,
    round_up_to_gang,
)

DEADLINE_S = 60.0


# ---- pure validation and policy (no processes)
def test_config_defaults_and_coercion() -> None:
    config = GangSchedulingConfig(gang_size=4)
    assert config.gang_placement_strategy is GangPlacementStrategy.PACK
    assert config.runtime_failure_policy is GangRuntimeFailurePolicy.RESTART_GANG
    spread = GangSchedulingConfig.from_value({"gang_size": 2, "gang_placement_strategy": "SPREAD"})
    assert spread is not None and spread.gang_placement_strategy is GangPlacementStrategy.SPREAD
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="gang_size"):
            GangSchedulingConfig(gang_size=bad)
    with pytest.raises(ValueError, match="gang_placement_strategy"):
        GangSchedulingConfig(gang_size=2, gang_placement_strategy="STRICT_PACK")
    with pytest.raises(NotImplementedError, match="RESTART_REPLICA"):
        GangSchedulingConfig(gang_size=2, runtime_failure_policy=GangRuntimeFailurePolicy.RESTART_REPLICA)


def test_deployment_validation_as_ray() -> None:
    gang = GangSchedulingConfig(gang_size=2)

    def define(**options: object) -> serve.Deployment:
        return serve.deployment(gang_scheduling_config=gang, **options)(lambda request: "ok")

    assert define(num_replicas=4).config.gang_scheduling_config == gang
    with pytest.raises(ValueError, match=r"num_replicas \(3\) must be a multiple of gang_size \(2\)"):
        define(num_replicas=3)
    with pytest.raises(ValueError, match="max_replicas_per_node"):
        define(num_replicas=2, max_replicas_per_node=2)
    with pytest.raises(ValueError, match="placement_group_strategy"):
        define(num_replicas=2, placement_group_bundles=[{"CPU": 1}], placement_group_strategy="PACK")
    # .options() merges, then checks, and a dict is a config
    base = serve.deployment(num_replicas=3)(lambda request: "ok")
    with pytest.raises(ValueError, match="multiple of gang_size"):
        base.options(gang_scheduling_config={"gang_size": 2})
    assert base.options(num_replicas=4, gang_scheduling_config={"gang_size": 2}).config.gang_scheduling_config == gang
    # with autoscaling, the count is not checked; the start is rounded up to whole gangs
    scaled = define(autoscaling_config={"min_replicas": 1, "max_replicas": 8, "initial_replicas": 3})
    assert scaled.config.initial_replicas() == 4 and scaled.config.aligned(5) == 6 and scaled.config.aligned(0) == 0


def test_gang_policy() -> None:
    assert round_up_to_gang(0, 4) == 0 and round_up_to_gang(1, 4) == 4 and round_up_to_gang(8, 4) == 8
    assert gangs_to_start(0, 4, 2) == 2 and gangs_to_start(2, 4, 2) == 1 and gangs_to_start(4, 4, 2) == 0
    assert gang_bundles(2, None, {"num_cpus": 0.25, "resources": {"x": 1}}) == [{"CPU": 0.25, "x": 1.0}] * 2
    assert gang_bundles(2, [{"CPU": 1, "GPU": 1}, {"GPU": 1}], {}) == [{"CPU": 1, "GPU": 1}, {"GPU": 1}] * 2
    a, b = GangContext("a", 0, 2, ["1", "2"]), GangContext("b", 0, 2, ["3", "4"])
    assert incomplete_gangs([("1", a), ("2", a), ("3", b), ("4", b), ("5", None)]) == set()
    assert incomplete_gangs([("1", a), ("3", b), ("4", b)]) == {"a"}
    gangs = {"a": [(True, "1"), (True, "2")], "b": [(True, "3"), (False, "4")]}
    assert gangs_to_stop(gangs, 2, 2) == ["b"] and gangs_to_stop(gangs, 1, 2) == []


def test_config_file_round_trip() -> None:
    from streamdata.serve.config_apply import deployment_schema
    from streamdata.serve.config_file import parse_config

    dep = Member.options(num_replicas=2, gang_scheduling_config=GangSchedulingConfig(gang_size=2))
    entry = deployment_schema(dep, "test")
    assert entry["gang_scheduling_config"] == {"gang_size": 2}
    config = parse_config({"applications": [{"name": "a", "import_path": "m:app", "deployments": [entry]}]})
    options = config.applications[0].deployments[0].options
    assert serve.deployment(**options)(lambda request: "ok").config.gang_scheduling_config == \
        GangSchedulingConfig(gang_size=2)


# ---- end to end
@serve.deployment(num_replicas=4, ray_actor_options={"num_cpus": 0.25},
                  gang_scheduling_config=GangSchedulingConfig(gang_size=2), health_check_period_s=0.2)
class Member:
    def __init__(self) -> None:
        context = serve.get_replica_context()
        self.gang, self.replica = context.gang_context, context.replica_tag

    def __call__(self) -> dict:
        gang = self.gang
        return {"replica": self.replica, "pid": os.getpid(), "gang_id": gang.gang_id, "rank": gang.rank,
                "world_size": gang.world_size, "members": list(gang.member_replica_ids)}


def _survey(handle: serve.DeploymentHandle, replicas: int, deadline: float) -> dict[str, dict]:
    """Every replica's answer, by replica id (calls until all ``replicas`` answered)."""
    seen: dict[str, dict] = {}
    while len(seen) < replicas:
        assert time.monotonic() < deadline, f"only {len(seen)} of {replicas} replicas answered"
        for answer in [handle.remote() for _ in range(8)]:
            info = answer.result(timeout_s=30)
            seen[info["replica"]] = info
    return seen


def _gangs(seen: dict[str, dict]) -> dict[str, list[dict]]:
    gangs: dict[str, list[dict]] = {}
    for info in seen.values():
        gangs.setdefault(info["gang_id"], []).append(info)
    return gangs


def test_gangs_context_and_restart(serve_no_proxy: None) -> None:
    handle = serve.run(Member.bind(), name="gang", route_prefix=None)
    try:
        seen = _survey(handle, 4, time.monotonic() + DEADLINE_S)
        gangs = _gangs(seen)
        assert len(gangs) == 2
        for gang_id, members in gangs.items():
            assert sorted(m["rank"] for m in members) == [0, 1]
            assert {m["world_size"] for m in members} == {2}
            ids = members[0]["members"]
            assert all(m["members"] == ids for m in members)  # one member list, ordered by rank
            assert [next(m["replica"] for m in members if m["rank"] == r) for r in (0, 1)] == ids

        # kill one member of one gang: its whole gang restarts, the other gang is untouched
        victim_gang, other_gang = sorted(gangs)
        victim = gangs[victim_gang][0]
        os.kill(victim["pid"], signal.SIGKILL)
        old_pids = {m["pid"] for m in gangs[victim_gang]}
        other = {(m["replica"], m["pid"]) for m in gangs[other_gang]}
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert time.monotonic() < deadline, "the gang was not restarted"
            try:
                seen = _survey(handle, 4, deadline)
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 - a call routed to a replica that was just killed
                continue
            after = _gangs(seen)
            if victim_gang not in after and len(after) == 2 and all(len(m) == 2 for m in after.values()):
                break
        after = _gangs(seen)
        assert set(after) - {other_gang} and other_gang in after
        assert {(m["replica"], m["pid"]) for m in after[other_gang]} == other  # untouched
        (new_gang,) = set(after) - {other_gang}
        assert sorted(m["rank"] for m in after[new_gang]) == [0, 1]
        assert not {m["pid"] for m in after[new_gang]} & old_pids  # both members are new processes
        status = serve.status().applications["gang"].deployments["Member"]
        assert status.replica_states.get("RUNNING") == 4
    finally:
        serve.delete("gang")
