"""An async actor's ``max_concurrency`` admits calls as Ray does (Ray Core's async_api guide):
a call starts only when a slot is free at its admission, in arrival order, so the call a
finishing one hands its slot to runs after the coroutines that finishing call woke. The
guide's example on a real actor is in ``test_core_doc_pages.py``; this is the rule alone."""

from __future__ import annotations

from streamdata.core.concurrency_groups import AsyncSlots


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
