"""A training worker SIGKILLed under load: TorchTrainer with FailureConfig(max_failures=1) restarts the
group from the latest checkpoint and finishes; every epoch's rows are read in full."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time

import pytest

import streamdata as sd
from streamdata import train
from tests.reliability.conftest import wait_for

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reliability

EPOCHS = 3
ROWS = 256


def _loop(config: dict) -> None:
    from streamdata.train.torch import prepare_model

    ctx = train.get_context()
    with open(os.path.join(config["dir"], f"pid{ctx.get_world_rank()}"), "w") as f:
        f.write(str(os.getpid()))
    torch.manual_seed(0)
    model = prepare_model(torch.nn.Linear(1, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    ckpt = train.get_checkpoint()
    start = 0
    if ckpt:
        with ckpt.as_directory() as d:
            start = json.load(open(os.path.join(d, "state.json")))["epoch"]
    for epoch in range(start, EPOCHS):
        if epoch == EPOCHS - 1 and start == 0 and ctx.get_world_rank() == 1:
            # the first attempt's rank 1 stays in its last epoch until the test SIGKILLs it (a fast
            # machine would otherwise finish the run before the kill lands)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.05)
            raise TimeoutError("rank 1 was never killed")
        rows = 0
        for batch in train.get_dataset_shard("train").iter_torch_batches(batch_size=32):
            x = batch["id"].float().unsqueeze(1) / ROWS
            loss = ((model(x) - 2 * x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            rows += len(x)
        d = tempfile.mkdtemp()
        json.dump({"epoch": epoch + 1}, open(os.path.join(d, "state.json"), "w"))
        train.report({"epoch": epoch + 1, "rows": rows, "start": start}, checkpoint=train.Checkpoint.from_directory(d))
        with open(os.path.join(config["dir"], f"reported{ctx.get_world_rank()}_{epoch + 1}"), "w"):
            pass


def test_trainer_worker_sigkill_restarts_from_checkpoint(tmp_path, figures):
    from streamdata.train.torch import TorchTrainer

    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    try:
        ds = sd.range(ROWS, override_num_blocks=8)
        trainer = TorchTrainer(
            _loop, train_loop_config={"dir": str(tmp_path)}, datasets={"train": ds},
            scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}),
            run_config=train.RunConfig(storage_path=str(tmp_path / "runs"), name="kill",
                                       failure_config=train.FailureConfig(max_failures=1)))
        import threading
        killed: list[int] = []

        def killer() -> None:
            # once both ranks reported epoch 2 (so the driver has had a whole epoch to commit epoch 1's
            # checkpoint), SIGKILL rank 1 while it trains epoch 3. A checkpoint counts only when every
            # rank reported it, as in Ray, so killing right after the first checkpoint directory
            # appears may legitimately restart from scratch.
            wait_for(lambda: (tmp_path / "reported0_2").exists() and (tmp_path / "reported1_2").exists(),
                     120, "both ranks to report epoch 2")
            pid = int((tmp_path / "pid1").read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        t = threading.Thread(target=killer, daemon=True)
        t.start()
        result = trainer.fit()
        t.join(timeout=5)
    finally:
        sd.shutdown()
    assert killed, "the killer never fired"
    df = result.metrics_dataframe
    assert result.error is None and result.metrics["epoch"] == EPOCHS
    assert result.num_failures == 1, f"expected one restart, got {result.num_failures}"
    assert max(df["start"]) >= 1, "the restarted group began from scratch, not from the checkpoint"
    assert set(df["rows"]) == {ROWS // 2}, f"an epoch read a partial shard: {list(df['rows'])}"
    figures.record("trainer worker SIGKILL (TorchTrainer, max_failures=1)", runs=1, kills=len(killed),
                   rows_checked=int(sum(df["rows"])), notes=f"resumed at epoch {max(df['start'])} of {EPOCHS}")
