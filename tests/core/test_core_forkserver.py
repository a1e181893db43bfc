"""Workers forked from the session's fork server (real processes, 2 CPUs).

Every actor still gets a process of its own that nothing else uses while it lives and
that is never reused after it dies; what changes is that the process is forked from a
template that already imported streamdata, numpy, pyarrow and pandas, instead of a
fresh Python start (issue 14: the actor-pool form paid ~0.8 s of CPU per actor).
"""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest
from _core_util import gone, wait_for

import streamdata as sd
from streamdata.core.forkserver import ForkedProcess
from streamdata.exceptions import ActorDiedError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120)]


@sd.remote(num_cpus=1)
class Probe:
    def __init__(self) -> None:
        # what the process had imported when the constructor ran
        self.preloaded = {name: name in sys.modules
                          for name in ("pandas", "pyarrow.parquet", "streamdata.io.parquet")}

    def info(self) -> tuple[int, dict[str, bool]]:
        return os.getpid(), self.preloaded

    def draw(self) -> float:
        import numpy as np

        return float(np.random.rand())


@sd.remote(num_cpus=1, max_restarts=0)
class Mortal:
    def pid(self) -> int:
        return os.getpid()


@sd.remote
def task_pid() -> int:
    return os.getpid()


def test_each_actor_is_a_fresh_preloaded_process_never_reused(runtime) -> None:
    seen: set[int] = set()
    for _ in range(3):
        actor = Probe.remote()
        pid, preloaded = sd.get(actor.info.remote())
        # forked from the server: the imports a data task needs are done before __init__
        assert preloaded == {"pandas": True, "pyarrow.parquet": True, "streamdata.io.parquet": True}
        assert pid not in seen, "a dead actor's process was reused"
        assert type(runtime.workers[_worker_of(runtime, pid)].proc) is ForkedProcess
        task_pids = set(sd.get([task_pid.remote() for _ in range(6)]))
        assert pid not in task_pids, "a task ran in a live actor's process"
        seen.add(pid)
        sd.kill(actor)
        wait_for(lambda: gone(pid), what=f"the killed actor's process {pid} to exit")
    # and no task ever runs in a dead actor's process afterwards
    assert not seen & set(sd.get([task_pid.remote() for _ in range(6)]))


def test_forked_workers_do_not_share_the_servers_random_state(runtime) -> None:
    a, b = Probe.remote(), Probe.remote()
    draws = sd.get([a.draw.remote(), b.draw.remote()])
    assert draws[0] != draws[1]
    sd.kill(a)
    sd.kill(b)


def test_a_forked_actor_killed_by_a_signal_reports_it(runtime) -> None:
    actor = Mortal.remote()
    pid = sd.get(actor.pid.remote())
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ActorDiedError, match="killed by SIGKILL"):
        sd.get(actor.pid.remote(), timeout=30)


@sd.remote(num_cpus=0)
class EnvProbe:
    def look(self) -> tuple[str | None, int, str]:
        import fork_probe_mod  # on a path the driver added after init

        return os.environ.get("SD_FORK_PROBE"), fork_probe_mod.VALUE, os.getcwd()


def test_a_new_forked_worker_gets_the_drivers_environment_path_and_directory_of_now(
        runtime, tmp_path, monkeypatch) -> None:
    """As a worker started fresh would: not the server's, frozen at init."""
    (tmp_path / "fork_probe_mod.py").write_text("VALUE = 41\n")
    monkeypatch.setenv("SD_FORK_PROBE", "yes")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # the first may take a worker forked before the change; the later ones take new ones
    actors = [EnvProbe.remote() for _ in range(3)]
    assert sd.get(actors[-1].look.remote()) == ("yes", 41, str(tmp_path))
    for actor in actors:
        sd.kill(actor)


def test_workers_start_fresh_when_the_fork_server_is_gone(runtime) -> None:
    server = runtime.forkserver
    assert server is not None and server.alive
    server.proc.kill()
    wait_for(lambda: not server.alive, what="the driver to see the fork server's death")
    # the first may take an idle worker forked before; the later ones are started fresh
    actors = [Light.remote() for _ in range(3)]
    pid = sd.get(actors[-1].pid.remote())
    proc = runtime.workers[_worker_of(runtime, pid)].proc
    assert type(proc) is not ForkedProcess
    assert psutil.Process(pid).ppid() == os.getpid()
    assert sorted(sd.get([task_pid.remote() for _ in range(4)]))  # tasks still run
    for actor in actors:
        sd.kill(actor)


@sd.remote(num_cpus=0)
class Light:
    def pid(self) -> int:
        return os.getpid()


def _worker_of(runtime, pid: int) -> str:
    return wait_for(lambda: next((wid for wid, w in list(runtime.workers.items()) if w.pid == pid), None),
                    what=f"a worker with pid {pid}")


@pytest.fixture(scope="module", autouse=True)
def _runtime(runtime):
    yield runtime
