"""``DataContext.scheduling_strategy``: a pipeline told to run inside a placement group (as a
trainer or tuner holding every CPU tells Ray Data) runs its tasks and actors there instead of
waiting forever for a CPU outside the group."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import streamdata as sd
from streamdata.exec.resources import placement_options
from streamdata.util.placement_group import placement_group, remove_placement_group
from streamdata.util.scheduling_strategies import PlacementGroupSchedulingStrategy

RUNTIME_INIT = {"num_cpus": 1}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


def test_the_option_comes_from_the_context_unless_the_operator_names_its_own() -> None:
    strategy = object()
    ctx = SimpleNamespace(scheduling_strategy=strategy)
    assert placement_options(ctx, {"num_cpus": 1}) == {"scheduling_strategy": strategy}
    assert placement_options(ctx, {"scheduling_strategy": "mine"}) == {}
    assert placement_options(ctx, {"placement_group": "mine"}) == {}
    for unset in ("SPREAD", "DEFAULT", None):
        assert placement_options(SimpleNamespace(scheduling_strategy=unset), {}) == {}


class Tagger:
    """An actor-pool UDF that notes the placement group it runs in."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        group = sd.get_runtime_context().get_placement_group_id()
        return {"id": batch["id"], "group": np.array([group] * len(batch["id"]))}


def _group(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    group = sd.get_runtime_context().get_placement_group_id()
    return {"id": batch["id"], "group": np.array([group] * len(batch["id"]))}


def test_a_pipeline_runs_inside_the_group_that_holds_every_cpu(ctx) -> None:
    group = placement_group([{"CPU": 1}])
    sd.get(group.ready(), timeout=30)
    try:
        ctx.scheduling_strategy = PlacementGroupSchedulingStrategy(group)
        tasks = sd.data.range(40, override_num_blocks=4).map_batches(_group).take_all()
        actors = sd.data.range(40, override_num_blocks=4).map_batches(Tagger, concurrency=1).take_all()
        shuffled = (sd.data.range(40, override_num_blocks=4).map_batches(_group).sort("id", descending=True)
                    .repartition(3).take_all())
    finally:
        remove_placement_group(group)
    for rows in (tasks, actors, shuffled):
        assert sorted(r["id"] for r in rows) == list(range(40))
        assert {r["group"] for r in rows} == {group.id}  # every task and actor ran in the group
    assert [r["id"] for r in shuffled] == list(range(39, -1, -1))
