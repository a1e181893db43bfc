"""Workers forked from the session's fork server (real processes, 2 CPUs).

Every actor still gets a process of its own that nothing else uses while it lives and
that is never reused after it dies; what changes is that the process is forked from a
template that already imported streamdata, numpy, pyarrow and pandas, instead of a
fresh Python start (issue 14: the actor-pool form paid ~0.8 s of CPU per actor).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import psutil
import pytest
from _core_util import gone, wait_for

import streamdata as sd
from streamdata.core import processes
from streamdata.core.forkserver import ForkedProcess, ForkServerClient
from streamdata.exceptions import ActorDiedError

RUNTIME_INIT = {"num_cpus": 2, "num_gpus": 1}
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


@sd.remote(num_cpus=0, num_gpus=1)
class GpuProbe:
    def __init__(self) -> None:
        self.preloaded = "pyarrow.parquet" in sys.modules
        self.cuda_at_init = os.environ.get("CUDA_VISIBLE_DEVICES")

    def info(self) -> tuple[int, bool, str | None, str | None, list[int]]:
        return (os.getpid(), self.preloaded, self.cuda_at_init, os.environ.get("CUDA_VISIBLE_DEVICES"),
                sd.get_gpu_ids())


def test_a_gpu_actor_is_forked_with_its_gpu_set_before_it_runs_anything(runtime) -> None:
    """Issue 14: a GPU actor paid a fresh Python start (0.5-0.8 s, more under load) per
    execution; the template never loads CUDA, so the child may set CUDA_VISIBLE_DEVICES."""
    actor = GpuProbe.remote()
    pid, preloaded, cuda_at_init, cuda_now, gpu_ids = sd.get(actor.info.remote(), timeout=60)
    assert type(runtime.workers[_worker_of(runtime, pid)].proc) is ForkedProcess
    assert psutil.Process(pid).ppid() == runtime.forkserver.proc.pid
    assert preloaded
    assert cuda_at_init == cuda_now == "0"
    assert gpu_ids == [0]
    sd.kill(actor)
    wait_for(lambda: gone(pid), what=f"the killed GPU actor's process {pid} to exit")


@sd.remote(num_cpus=0)
class EnvVarsProbe:
    def info(self) -> tuple[int, str | None]:
        return os.getpid(), os.environ.get("SD_OWN_VAR")


def test_an_actor_with_env_vars_of_its_own_still_starts_fresh(runtime) -> None:
    """Libraries the template imported read their variables at import: such a worker is
    not forked."""
    actor = EnvVarsProbe.options(runtime_env={"env_vars": {"SD_OWN_VAR": "mine"}}).remote()
    pid, value = sd.get(actor.info.remote(), timeout=60)
    assert value == "mine"
    assert type(runtime.workers[_worker_of(runtime, pid)].proc) is not ForkedProcess
    assert psutil.Process(pid).ppid() == os.getpid()
    sd.kill(actor)


def test_a_template_with_cuda_loaded_refuses_gpu_workers_to_be_started_fresh(tmp_path) -> None:
    """A template in which a CUDA library is imported (here a module named ``cupy``,
    imported at start-up through ``sitecustomize``) hands GPU requests back unforked,
    with the environment they were to get."""
    (tmp_path / "cupy.py").write_text("")
    (tmp_path / "sitecustomize.py").write_text("import cupy\n")
    env = processes.worker_env({"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])})
    lost: list = []
    done = threading.Event()
    client = ForkServerClient(env, lambda *_: None, lambda entries: (lost.extend(entries), done.set()))
    parent, child = socket.socketpair()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    fds = [os.dup(child.fileno()), out_w, err_w]
    gpu_env = {**env, "CUDA_VISIBLE_DEVICES": "0"}
    try:
        proc = client.spawn("w-gpu.", fds, ["w-gpu.", "shm", "spill"], None, None, gpu_env, gpu=True)
        assert proc is not None
        assert done.wait(60), "the refusal never came back"
        [(worker_id, lost_fds, tail, lost_proc, lost_env)] = lost
        assert (worker_id, lost_fds, tail, lost_proc) == ("w-gpu.", fds, ["w-gpu.", "shm", "spill"], proc)
        assert lost_env["CUDA_VISIBLE_DEVICES"] == "0"
        assert client.alive, "a refusal is not the server's death"
    finally:
        client.close()
        for fd in (*fds, out_r, err_r):
            try:
                os.close(fd)
            except OSError:
                pass
        parent.close()
        child.close()


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
