"""Actor concurrency groups on a real runtime (2 CPUs): each group runs on its own pool
(threaded actors) or semaphore (async actors), besides the default group; a method's
group comes from ``@sd.method(concurrency_group=...)`` or the call's ``.options``."""

from __future__ import annotations

import os

import pytest
from _core_util import append_line, block_until_file, read_text, touch, wait_for

import streamdata as sd
from streamdata.exceptions import TaskError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote(concurrency_groups={"io": 1, "compute": 1}, num_cpus=0)
class Grouped:
    def __init__(self, log: str) -> None:
        self.log = log

    @sd.method(concurrency_group="io")
    def hold(self, release: str) -> str:
        append_line(self.log, "hold-start")
        block_until_file(release)
        append_line(self.log, "hold-end")
        return "held"

    @sd.method(concurrency_group="compute")
    def compute(self) -> int:
        append_line(self.log, "compute")
        return os.getpid()

    def default(self) -> str:
        append_line(self.log, "default")
        return "default"


def _lines(path: str) -> list[str]:
    return (read_text(path) or "").split()


def test_groups_run_beside_a_blocked_group(tmp_path) -> None:
    log, release = str(tmp_path / "log"), str(tmp_path / "release")
    a = Grouped.remote(log)
    held = a.hold.remote(release)
    wait_for(lambda: "hold-start" in _lines(log), what="the io call to start")
    # the io group (1 thread) is busy: the other groups still run
    assert isinstance(sd.get(a.compute.remote(), timeout=60), int)
    assert sd.get(a.default.remote(), timeout=60) == "default"
    queued = a.default.options(concurrency_group="io").remote()  # waits for the io thread
    touch(release)
    assert sd.get([held, queued], timeout=60) == ["held", "default"]
    lines = _lines(log)
    assert lines.index("hold-end") < len(lines) - 1 and lines[-1] == "default", lines


@sd.remote(concurrency_groups={"slow": 1}, num_cpus=0)
class AsyncGrouped:
    def __init__(self, log: str) -> None:
        self.log = log

    @sd.method(concurrency_group="slow")
    async def hold(self, release: str) -> str:
        import asyncio
        append_line(self.log, "hold-start")
        while not os.path.exists(release):
            await asyncio.sleep(0.01)  # yields the loop: other groups' calls run meanwhile
        return "held"

    async def quick(self) -> str:
        return "quick"


def test_async_actor_groups_have_their_own_semaphores(tmp_path) -> None:
    log, release = str(tmp_path / "log"), str(tmp_path / "release")
    a = AsyncGrouped.remote(log)
    held = a.hold.remote(release)
    wait_for(lambda: "hold-start" in _lines(log), what="the slow call to start")
    assert sd.get(a.quick.remote(), timeout=60) == "quick"
    touch(release)
    assert sd.get(held, timeout=60) == "held"


def test_bad_groups_are_refused_and_an_undefined_one_is_the_default_group(tmp_path) -> None:
    class Loose:
        @sd.method(concurrency_group="nope")
        def f(self) -> int:
            return 1

    with pytest.warns(UserWarning, match=r"Loose\.f is in concurrency group 'nope'.*runs in the default group"):
        loose = sd.remote(concurrency_groups={"io": 1})(Loose).remote()
    assert sd.get(loose.f.remote(), timeout=60) == 1  # as in Ray: the default group runs it
    with pytest.raises(ValueError, match="must be an int >= 1"):
        sd.remote(concurrency_groups={"io": 0})(Grouped._cls)
    with pytest.raises(TypeError, match="concurrency_groups must be a dict"):
        sd.remote(concurrency_groups=["io"])(Grouped._cls)

    a = Grouped.remote(str(tmp_path / "log"))
    assert sd.get(a.default.options(concurrency_group="gpu").remote(), timeout=60) == "default"

    @sd.remote
    class Plain:
        def f(self) -> int:
            return 1

    p = Plain.remote()
    assert sd.get(p.f.options(concurrency_group="io").remote(), timeout=60) == 1
    with pytest.raises(TypeError, match="concurrency_group must be a str"):
        p.f.options(concurrency_group=3)
