"""Cases that need a runtime of their own (a fresh one per test, 2 CPUs).

* a ``get``/``wait`` that timed out must leave the runtime healthy: a runtime
  broken by one of these cases would otherwise take later tests down with it;
* refs that outlive their session (``sd.shutdown()`` then ``sd.init()``);
* tasks that need more workers than the pool starts with: the outcome depends
  on the pool's initial size, so it must not follow tests that grew the pool.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from _core_util import block_until_file, rendezvous, touch, wait_for

import streamdata as sd
from streamdata.exceptions import GetTimeoutError

pytestmark = pytest.mark.timeout(90)


def _init_ready() -> None:
    """A new runtime whose task workers are up: the 5 s deadlines below time the
    runtime's answers, not worker start-up on a loaded machine."""
    sd.init(num_cpus=2)
    assert sd.get([add.remote(i) for i in range(2)], timeout=120) == [0, 1]


@pytest.fixture()
def fresh_runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    _init_ready()
    yield
    gc.collect()
    sd.shutdown()


@sd.remote
def hold(release: str, value: object = None) -> object:
    block_until_file(release)
    return value


@sd.remote
def add(a: int, b: int = 0) -> int:
    return a + b


@pytest.mark.usefixtures("fresh_runtime")
def test_driver_get_timeout_then_other_ref_freed(tmp_path) -> None:
    release = str(tmp_path / "release")
    slow = hold.remote(release, "late")
    with pytest.raises(GetTimeoutError):
        sd.get([sd.put(b"x" * 10), slow], timeout=0)  # the put's ref is dropped right after
    gc.collect()
    touch(release)  # `slow` finishes now, after the other object was freed
    assert sd.get(slow, timeout=5) == "late"
    assert sd.get(add.remote(1, 2), timeout=5) == 3


@pytest.mark.usefixtures("fresh_runtime")
def test_worker_get_timeout_then_other_ref_freed(tmp_path) -> None:
    release = str(tmp_path / "release")
    slow = hold.options(num_cpus=0).remote(release, "late")

    @sd.remote
    def impatient(refs):
        try:
            sd.get([sd.put(os.getpid()), refs[0]], timeout=0.1)
        except GetTimeoutError:
            return "timed out"
        return "no timeout"

    assert sd.get(impatient.remote([slow]), timeout=5) == "timed out"
    touch(release)
    assert sd.get(slow, timeout=5) == "late"
    assert sd.get([add.remote(i) for i in range(4)], timeout=5) == [0, 1, 2, 3]


@pytest.mark.usefixtures("fresh_runtime")
def test_wait_timeout_then_get(tmp_path) -> None:
    release = str(tmp_path / "release")
    slow = hold.remote(release, "late")
    ready, not_ready = sd.wait([sd.put(1), slow], num_returns=2, timeout=0.1)
    assert len(ready) == 1 and not_ready == [slow]
    del ready, not_ready
    gc.collect()
    touch(release)
    assert sd.get(slow, timeout=5) == "late"


@sd.remote
def meet(directory: str, parties: int) -> bool:
    # all parties must be running at once; the deadline only bounds worker start-up
    return rendezvous(directory, parties, timeout=30)


@pytest.mark.usefixtures("fresh_runtime")
def test_fractional_cpu_tasks_run_at_once(tmp_path) -> None:
    # four half-CPU tasks fit at once on two CPUs: the runtime must start workers for them
    refs = [meet.options(num_cpus=0.5).remote(str(tmp_path / "meet"), 4) for _ in range(4)]
    assert sd.get(refs, timeout=60) == [True] * 4


@pytest.mark.usefixtures("fresh_runtime")
def test_zero_cpu_tasks_run_at_once(tmp_path) -> None:
    refs = [meet.options(num_cpus=0).remote(str(tmp_path / "meet"), 3) for _ in range(3)]
    assert sd.get(refs, timeout=60) == [True] * 3


@pytest.mark.usefixtures("fresh_runtime")
def test_refs_of_a_previous_session_do_not_touch_the_next_one() -> None:
    old = [sd.put(f"old-{i}") for i in range(5)]
    sd.shutdown()
    _init_ready()
    new = [sd.put(f"new-{i}") for i in range(5)]
    pending = add.remote(1, 2)
    del old  # dropped under the new session
    gc.collect()
    assert sd.get(new, timeout=5) == [f"new-{i}" for i in range(5)]
    assert sd.get(pending, timeout=5) == 3


@pytest.mark.usefixtures("fresh_runtime")
def test_get_of_a_ref_from_a_previous_session_is_an_error() -> None:
    old = sd.put("from the old session")
    sd.shutdown()
    _init_ready()
    with pytest.raises(sd.exceptions.ObjectLostError):
        sd.get(old, timeout=5)


@pytest.mark.usefixtures("fresh_runtime")
def test_late_answer_to_a_timed_out_get_does_not_take_back_lent_cpus(tmp_path) -> None:
    """A task whose ``get`` timed out, then blocks in another ``get``, must keep its CPUs
    lent until that second ``get`` returns, even when the first one's object turns up."""
    release1, release2 = str(tmp_path / "release1"), str(tmp_path / "release2")
    in_second_get = str(tmp_path / "in-second-get")
    slow1 = hold.options(num_cpus=0).remote(release1, 1)
    slow2 = hold.options(num_cpus=0).remote(release2, 2)

    @sd.remote
    def consumer(x):
        return x * 10

    @sd.remote(num_cpus=2)
    def tricky(refs, marker):
        try:
            sd.get(refs[0], timeout=0.1)
        except GetTimeoutError:
            pass
        second = consumer.remote(refs[1])  # needs a CPU once slow2 is done
        touch(marker)
        return sd.get(second)

    ref = tricky.remote([slow1, slow2], in_second_get)
    wait_for(lambda: os.path.exists(in_second_get), what="the task to block in its second get")
    touch(release1)
    assert sd.get(slow1, timeout=5) == 1  # the late answer to the first get is out now
    touch(release2)
    assert sd.get(ref, timeout=10) == 20
