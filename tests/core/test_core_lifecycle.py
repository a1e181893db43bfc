"""Starting and stopping the runtime: implicit init, init arguments, clean shutdown, a killed
driver cleaned up by the reaper, and no network sockets anywhere.

Every test here starts and stops its own runtime (no shared fixture).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
from _core_util import gone, runtime_children, wait_for

import streamdata as sd

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _no_runtime_around() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    yield
    if sd.is_initialized():
        sd.shutdown()


def _session_dirs(pid: int) -> list[str]:
    return glob.glob(f"/dev/shm/streamdata-{os.getuid()}-{pid}-*")


@sd.remote
def pid_of() -> int:
    return os.getpid()


@sd.remote
class Pinger:
    def pid(self) -> int:
        return os.getpid()


def test_implicit_init_on_first_use() -> None:
    assert not sd.is_initialized()
    ref = sd.put("first use starts the runtime")
    assert sd.is_initialized()
    assert sd.get(ref) == "first use starts the runtime"
    sd.shutdown()
    assert not sd.is_initialized()
    assert sd.get(pid_of.remote()) != os.getpid()  # .remote() starts it too
    assert sd.is_initialized()
    sd.shutdown()
    assert sd.cluster_resources()["CPU"] == float(os.cpu_count() or 1)  # so does a query
    sd.shutdown()


def test_init_returns_session_info_and_refuses_a_second_init() -> None:
    info = sd.init(num_cpus=1)
    assert os.path.isdir(info["object_store_dir"])
    assert sd.cluster_resources()["CPU"] == 1.0
    with pytest.raises(RuntimeError, match="already initialized"):
        sd.init(num_cpus=1)
    assert sd.init(ignore_reinit_error=True)["object_store_dir"] == info["object_store_dir"]
    sd.shutdown()
    sd.shutdown()  # twice is fine
    assert not os.path.exists(info["object_store_dir"])


@pytest.mark.parametrize("kwargs, error", [
    ({"backend": "spark"}, ValueError),
    ({"bogus_option": 1}, TypeError),
    ({"num_cpus": -1}, ValueError),
    ({"num_gpus": -2}, ValueError),
    ({"address": "127.0.0.1:6379"}, ValueError),
])
def test_bad_init_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        sd.init(**kwargs)
    assert not sd.is_initialized()
    assert not _session_dirs(os.getpid()), "a failed init left a session directory"


def test_init_args_reach_the_runtime() -> None:
    sd.init(num_cpus=3, num_gpus=1, resources={"disk": 4}, object_store_memory=64 * MB)
    total = sd.cluster_resources()
    assert (total["CPU"], total["GPU"], total["disk"]) == (3.0, 1.0, 4.0)
    assert total["object_store_memory"] == 64 * MB
    assert sd.object_store_stats()["capacity_bytes"] == 64 * MB


def test_shutdown_leaves_no_process_and_no_file(tmp_path) -> None:
    sd.init(num_cpus=2, object_store_memory=40 * MB, spill_dir=str(tmp_path))
    rt = sd.core.api._runtime_for_tests()
    shm_dir, spill_dir = rt.shm_dir, rt.spill_dir
    actor = Pinger.remote()
    actor_pid = sd.get(actor.pid.remote())
    refs = [sd.put(np.full(2 * MB, i, dtype=np.int64)) for i in range(4)]  # 64 MB: spills
    assert sd.object_store_stats()["spilled_bytes"] > 0 and os.listdir(spill_dir)
    assert os.listdir(shm_dir)
    sd.get([pid_of.remote() for _ in range(4)])

    @sd.remote
    def forever():
        import time
        time.sleep(600)

    running = forever.remote()  # still running at shutdown
    with rt.lock:
        pids = {w.pid for w in rt.workers.values()} | {actor_pid, rt.reaper.pid}
    assert len(pids) >= 4
    assert _session_dirs(os.getpid()) == [shm_dir]
    sd.shutdown()
    wait_for(lambda: all(gone(p) for p in pids), what="every runtime process to exit")
    assert runtime_children() == []
    assert not os.path.exists(shm_dir) and not os.path.exists(spill_dir)
    assert _session_dirs(os.getpid()) == []
    del refs, running


def test_killed_driver_is_cleaned_up_by_the_reaper(tmp_path) -> None:
    script = textwrap.dedent("""
        import json, os, sys
        import numpy as np
        import streamdata as sd

        sd.init(num_cpus=2, object_store_memory=40 * 2**20, spill_dir=sys.argv[1])
        rt = sd.core.api._runtime_for_tests()

        @sd.remote
        class Pinger:
            def pid(self):
                return os.getpid()

        @sd.remote
        def forever():
            import time
            time.sleep(600)

        actor = Pinger.remote()
        actor_pid = sd.get(actor.pid.remote())
        refs = [sd.put(np.full(2 * 2**20, i, dtype=np.int64)) for i in range(4)]
        busy = forever.remote()
        assert sd.object_store_stats()["spilled_bytes"] > 0
        print(json.dumps({"shm": rt.shm_dir, "spill": rt.spill_dir, "reaper": rt.reaper.pid,
                          "pids": sorted({w.pid for w in rt.workers.values()} | {actor_pid})}), flush=True)
        sys.stdin.read()  # until the test kills us
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, cwd=REPO_ROOT, text=True)
    try:
        line = proc.stdout.readline()
        assert line, f"the driver script failed (exit code {proc.poll()})"
        info = json.loads(line)
        assert os.path.isdir(info["shm"]) and os.listdir(info["spill"])
        assert all(not gone(p) for p in info["pids"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: all(gone(p) for p in info["pids"]), what="the workers of the killed driver to exit")
        wait_for(lambda: not os.path.exists(info["shm"]), what="the reaper to remove the shm session dir")
        wait_for(lambda: not os.path.exists(info["spill"]), what="the reaper to remove the spill dir")
        wait_for(lambda: gone(info["reaper"]), what="the reaper to exit")
        assert _session_dirs(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stdin.close()


def _inet_sockets(proc: psutil.Process) -> list:
    try:
        return proc.net_connections(kind="inet")
    except psutil.NoSuchProcess:
        return []


def test_runtime_opens_no_network_socket() -> None:
    me = psutil.Process()
    before = {(c.laddr, c.type, c.status) for c in _inet_sockets(me)}
    sd.init(num_cpus=2)
    actor = Pinger.remote()
    sd.get(actor.pid.remote())
    sd.get([pid_of.remote() for _ in range(4)])
    sd.get(sd.put(np.zeros(MB)))
    children = runtime_children()
    assert len(children) >= 3  # workers, the actor, the reaper
    for child in children:
        assert _inet_sockets(child) == [], f"{child.pid} ({' '.join(child.cmdline()[:3])}) has inet sockets"
    new = [c for c in _inet_sockets(me) if (c.laddr, c.type, c.status) not in before]
    assert new == [], f"the driver opened network sockets: {new}"
