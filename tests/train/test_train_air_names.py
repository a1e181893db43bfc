"""Ray AIR's module paths older training code imports (``ray.air.config``,
``ray.air.session``) and ``DataConfig(execution_options=...)``."""

from __future__ import annotations

from typing import Any

import pytest

import streamdata as sd
from streamdata import train
from streamdata.context import DataContext
from streamdata.context_options import ExecutionOptions, ExecutionResources


def test_air_config_is_the_train_configs() -> None:
    from streamdata.air.config import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

    assert (ScalingConfig, RunConfig, FailureConfig, CheckpointConfig) == (
        train.ScalingConfig, train.RunConfig, train.FailureConfig, train.CheckpointConfig)


def air_loop() -> None:
    from streamdata.air import session

    rows = sum(len(b["id"]) for b in session.get_dataset_shard("train").iter_batches())
    session.report({"rows": rows, "rank": session.get_world_rank(), "world": session.get_world_size()})


@pytest.mark.usefixtures("data_runtime")
def test_air_session_functions_work_in_a_loop_and_say_they_moved(tmp_path: Any) -> None:
    trainer = train.DataParallelTrainer(air_loop, datasets={"train": sd.range(10)},
                                        scaling_config=train.ScalingConfig(num_workers=1,
                                                                           resources_per_worker={"CPU": 0.5}),
                                        run_config=train.RunConfig(storage_path=str(tmp_path)))
    assert trainer.fit().metrics == {"rows": 10, "rank": 0, "world": 1}
    from streamdata.air import session

    with pytest.warns(DeprecationWarning, match=r"train\.get_context\(\)\.get_world_rank\(\)"):
        with pytest.raises(RuntimeError):  # outside a training loop, as train.get_context() there
            session.get_world_rank()


class _Recording:
    """A dataset stand-in that records the execution options current when it is split."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def streaming_split(self, n: int, equal: bool) -> list[str]:
        self.seen.append(DataContext.get_current().execution_options)
        return [f"split {i}" for i in range(n)]


def test_execution_options_apply_to_each_split_execution() -> None:
    limited = ExecutionOptions(resource_limits=ExecutionResources(cpu=1), preserve_order=True)
    before = DataContext.get_current().execution_options
    train_ds, valid_ds = _Recording(), _Recording()
    config = train.DataConfig(execution_options={"train": limited})
    shards = config.configure({"train": train_ds, "valid": valid_ds}, world_size=2, worker_handles=None,
                              worker_node_ids=None)
    assert shards == [{"train": "split 0", "valid": "split 0"}, {"train": "split 1", "valid": "split 1"}]
    assert train_ds.seen == [limited]
    assert valid_ds.seen[0].resource_limits == train.DataConfig.default_ingest_options().resource_limits
    assert DataContext.get_current().execution_options is before  # put back


def test_execution_options_must_be_options() -> None:
    with pytest.raises(TypeError, match="execution_options"):
        train.DataConfig(execution_options={"train": {"cpu": 1}})
