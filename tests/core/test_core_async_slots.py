"""An async actor's ``max_concurrency`` admits calls as Ray does (Ray Core's async_api guide):
a call starts only when a slot is free at its admission, in arrival order, so the call a
finishing one hands its slot to runs after the coroutines that finishing call woke."""

from __future__ import annotations

import asyncio

import pytest
from _core_util import block_until_file, touch

import streamdata as sd
from streamdata.core.concurrency_groups import AsyncSlots

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120)]


def test_slots_hand_a_freed_slot_to_the_oldest_waiting_call() -> None:
    slots, started = AsyncSlots(2), []
    for name in "abcd":
        slots.submit(lambda name=name: started.append(name))
    assert started == ["a", "b"] and slots.running == 2
    slots.done()
    assert started == ["a", "b", "c"] and slots.running == 2
    slots.done()
    slots.done()
    slots.done()
    assert started == ["a", "b", "c", "d"] and slots.running == 0


@sd.remote(num_cpus=0)
class Batches:
    """The guide's example: calls pair up; each pair must finish before the next starts."""

    def __init__(self, batch_size: int, release: str) -> None:
        block_until_file(release)  # every call below is queued before the actor runs any
        self._event = asyncio.Event()
        self._curr = 0
        self._batch_size = batch_size
        self.started: list[int] = []

    async def run_task(self) -> int:
        self._curr += 1
        self.started.append(self._curr)
        if self._curr == self._batch_size:
            self._event.set()
        else:
            await self._event.wait()
            self._event.clear()
            self._curr = 0
        return self._curr

    async def log(self) -> list[int]:
        return self.started


@pytest.mark.usefixtures("runtime")
def test_a_call_starts_after_what_the_last_one_woke(tmp_path) -> None:
    release = str(tmp_path / "go")
    actor = Batches.options(max_concurrency=2).remote(2, release)
    refs = [actor.run_task.remote() for _ in range(8)]
    touch(release)
    ready, _ = sd.wait(refs, num_returns=8, timeout=30)
    assert len(ready) == 8, "a newly admitted call ran before the call its predecessor woke"
    assert sd.get(actor.log.remote(), timeout=30) == [1, 2] * 4
