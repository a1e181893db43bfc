"""Random SIGKILL chaos: a seeded killer SIGKILLs worker processes while task, actor-pool,
all-to-all (sort, groupby), write and streaming_split stages run; every row comes out exactly once
and a write leaves no partial file."""

from __future__ import annotations

import os
import threading
import time

import pyarrow.parquet as pq
import pytest

import streamdata as sd
from tests.reliability.conftest import SEED, Killer, actor_pids, rounds

pytestmark = pytest.mark.reliability

N = 3000
BLOCKS = 40
ROUNDS = rounds(1, 6)


def _work(batch):
    time.sleep(0.06)  # simulated per-block work, so kills land mid-stage
    return batch


class _Slow:
    def __init__(self) -> None:
        self.pid = os.getpid()

    def __call__(self, batch):
        time.sleep(0.06)
        return batch


def _chaos(figures, name: str, run, check, seed_offset: int, spare=None) -> None:
    kills = rows = 0
    for r in range(ROUNDS):
        killer = Killer(SEED + seed_offset * 100 + r, max_kills=2, spare=spare)
        killer.start()
        try:
            out = run(r)
        finally:
            kills += killer.stop()
        rows += check(out)
    figures.record(name, runs=ROUNDS, kills=kills, rows_checked=rows)
    assert kills > 0, f"{name}: the killer never landed a kill; the pipeline ran too fast to test anything"


def _exactly_once(rows) -> int:
    ids = sorted(int(r["id"]) for r in rows)
    assert ids == list(range(N)), f"rows lost or duplicated: {len(ids)} rows, {len(set(ids))} distinct"
    return len(ids)


def test_task_stage_chaos(runtime, figures):
    _chaos(figures, "chaos: task map_batches",
           lambda r: sd.range(N, override_num_blocks=BLOCKS).map_batches(_work).take_all(), _exactly_once, 1)


def test_actor_pool_chaos(runtime, figures):
    _chaos(figures, "chaos: actor-pool map_batches",
           lambda r: sd.range(N, override_num_blocks=BLOCKS).map_batches(_Slow, concurrency=2).take_all(),
           _exactly_once, 2)


def test_sort_chaos(runtime, figures):
    def check(rows):
        ids = [int(x["id"]) for x in rows]
        assert ids == list(range(N - 1, -1, -1)), "sorted output lost, duplicated or misordered rows"
        return len(ids)
    _chaos(figures, "chaos: sort (all-to-all)",
           lambda r: sd.range(N, override_num_blocks=BLOCKS).map_batches(_work)
           .sort("id", descending=True).take_all(), check, 3)


def test_groupby_chaos(runtime, figures):
    def check(rows):
        got = {int(x["k"]): int(x["count()"]) for x in rows}
        assert got == {k: N // 10 for k in range(10)}, f"groupby counts wrong: {got}"
        return sum(got.values())
    _chaos(figures, "chaos: groupby count (all-to-all)",
           lambda r: sd.range(N, override_num_blocks=BLOCKS).map_batches(_work)
           .map_batches(lambda b: {"id": b["id"], "k": b["id"] % 10}).groupby("k").count().take_all(),
           check, 4)


def test_write_chaos(runtime, figures, tmp_path):
    def run(r):
        out = tmp_path / f"round{r}"
        sd.range(N, override_num_blocks=BLOCKS).map_batches(_work).write_parquet(str(out))
        return out

    def check(out):
        names = sorted(os.listdir(out))
        assert names and all(n.endswith(".parquet") for n in names), f"partial/temp files left: {names}"
        ids = sorted(i for n in names for i in pq.read_table(out / n).column("id").to_pylist())
        assert ids == list(range(N)), f"written rows lost or duplicated: {len(ids)} rows"
        return len(ids)
    _chaos(figures, "chaos: write_parquet", run, check, 5)


def test_streaming_split_chaos(runtime, figures):
    def run(r):
        its = sd.range(N, override_num_blocks=BLOCKS).map_batches(_work).streaming_split(2, equal=False)
        got: list[list[int]] = [[], []]
        errors: list[BaseException] = []

        def consume(i):
            try:
                for b in its[i].iter_batches(batch_size=None):
                    got[i].extend(int(x) for x in b["id"])
            except BaseException as e:  # surfaced below
                errors.append(e)
        threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "streaming_split consumers hung"
        if errors:
            raise errors[0]
        return [{"id": x} for x in got[0] + got[1]]
    # the stage's workers die, the SplitCoordinator actor is spared: as in Ray, it is created without
    # restarts, so its death fails the split with ActorDiedError (a clear error, not a wrong result)
    _chaos(figures, "chaos: streaming_split(2)", run, _exactly_once, 6,
           spare=lambda: actor_pids("SplitCoordinator"))
