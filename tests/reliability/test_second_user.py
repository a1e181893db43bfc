"""A second local Unix user cannot reach the runtime's sockets, shared-memory segments or spill files:
permissions are owner-only, and a forked child running as that user fails to open any of them."""

from __future__ import annotations

import gc
import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import numpy as np
import psutil
import pytest

import streamdata as sd
from tests.reliability.conftest import wait_for, worker_pids

pytestmark = pytest.mark.reliability

OTHER = "sdreliab"


def _other_uid() -> int:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second user (useradd) and switch to it; running as uid "
                    f"{os.geteuid()}")
    try:
        return pwd.getpwnam(OTHER).pw_uid
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("no useradd on this machine to create the second user")
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER], check=True)
        return pwd.getpwnam(OTHER).pw_uid


def _attempt_as(uid: int, targets: list[tuple[str, str]]) -> list[str]:
    """Fork a child that drops to ``uid`` and tries each (action, path); returns what it reached."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        reached = []
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for action, path in targets:
                try:
                    if action == "list":
                        os.listdir(path)
                    elif action == "read":
                        with open(path, "rb") as f:
                            f.read(1)
                    elif action == "write":
                        with open(path, "ab") as f:
                            f.write(b"x")
                    elif action == "connect":
                        import socket
                        s = socket.socket(socket.AF_UNIX)
                        s.settimeout(2)
                        s.connect(path)
                        s.close()
                    reached.append(f"{action} {path}")
                except OSError:
                    pass
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            reached.append(f"child error {e!r}")
        os.write(w, "\n".join(reached).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return [x for x in data.decode().split("\n") if x]


def test_second_user_cannot_reach_runtime(figures):
    uid = _other_uid()
    if sd.is_initialized():
        sd.shutdown()
    spill_root = tempfile.mkdtemp()
    os.chmod(spill_root, 0o755)  # a shared parent, like /tmp: the session's own dir must protect itself
    info = sd.init(num_cpus=2, object_store_memory=24 << 20, spill_dir=spill_root)
    try:
        refs = [sd.put(np.full(2_000_000, i, dtype=np.int64)) for i in range(6)]  # 96 MB: some spill
        assert sd.get(refs[0])[0] == 0
        from streamdata.core import api
        rt = api._runtime
        shm_dir, spill_dir = rt.shm_dir, rt.spill_dir
        wait_for(lambda: os.path.isdir(spill_dir) and os.listdir(spill_dir), 30, "objects to spill")
        wait_for(lambda: len(worker_pids()) > 0, 30, "workers to start")
        segments = [os.path.join(shm_dir, n) for n in os.listdir(shm_dir)]
        spills = [os.path.join(spill_dir, n) for n in os.listdir(spill_dir)]
        assert segments and spills
        for d in (shm_dir, spill_dir):
            mode = stat.S_IMODE(os.stat(d).st_mode)
            assert mode & 0o077 == 0, f"{d} is mode {oct(mode)}: reachable by other users"
        for p in segments + spills:
            mode = stat.S_IMODE(os.stat(p).st_mode)
            assert mode & 0o077 == 0, f"{p} is mode {oct(mode)}: readable by other users"
        # the runtime's sockets: socketpairs (no path) plus any named unix socket the tree listens on
        tree = [psutil.Process()] + psutil.Process().children(recursive=True)
        named = {c.laddr for p in tree for c in p.net_connections(kind="unix") if c.laddr}
        fd_dirs = [f"/proc/{p.pid}/fd" for p in tree]
        targets = ([("list", shm_dir), ("list", spill_dir)] + [("read", p) for p in segments + spills]
                   + [("write", p) for p in segments[:2] + spills[:2]]
                   + [("list", d) for d in fd_dirs] + [("connect", s) for s in named])
        control = os.path.join(spill_root, "control")  # world-readable: the child must reach it
        with open(control, "w") as f:
            f.write("x")
        os.chmod(control, 0o644)
        reached = _attempt_as(uid, targets + [("read", control)])
        assert reached == [f"read {control}"], f"user {OTHER} reached: {reached}"
        figures.record("second Unix user", runs=1, inputs_tried=len(targets),
                       notes=f"{len(segments)} shm segments, {len(spills)} spill files, {len(fd_dirs)} "
                             f"process fd dirs, {len(named)} named sockets; 0 reached")
        del refs
    finally:
        gc.collect()
        sd.shutdown()
        shutil.rmtree(spill_root, ignore_errors=True)
