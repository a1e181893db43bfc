"""Worker processes forked from a pre-imported template process (a fork server).

Starting a worker with ``python -m streamdata.core.worker`` costs a Python start-up and
the imports of streamdata, numpy, pyarrow and pandas: ~0.8 s of CPU. Every actor gets a
process of its own (and a dead actor's process is never reused), so an actor pool that
starts with each execution paid that on every run, on the CPUs the run itself needed.
The fork server is started once per session (``python -m streamdata.core.worker
--forkserver``); it imports what a worker needs, then forks a fresh worker per request
in a few milliseconds. Each child is a new process (its own pid, memory, sockets,
stdout/stderr pipes) that shares the already-imported modules copy-on-write.

The server is single-threaded (nothing it imports starts a thread), so forking it is
safe. It reports each child's exit status to the driver (the children are its
children, not the driver's). If the server is gone, the driver starts workers the
usual way (:func:`streamdata.core.processes.spawn_worker`).

Only workers started without an environment of their own come from the server (a GPU
actor's ``CUDA_VISIBLE_DEVICES`` must be set before anything imports CUDA libraries).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Callable

#: environment variable that turns the fork server off (``0``): every worker is started fresh
ENV_SWITCH = "STREAMDATA_FORKSERVER"

#: modules the server imports before it forks anyone: what nearly every data task needs
PRELOAD = ("numpy", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "pyarrow.dataset",
           "pyarrow.pandas_compat", "pandas", "fsspec", "streamdata.exec.operators.map_task",
           "streamdata.io.parquet", "streamdata.io.parquet_encoding")


def enabled() -> bool:
    """Whether workers come from a fork server (``STREAMDATA_FORKSERVER=0`` turns it off).

    Example:
        >>> isinstance(enabled(), bool)
        True
    """
    return os.environ.get(ENV_SWITCH, "1") not in ("0", "false", "False", "")


class ForkedProcess:
    """What the driver holds of a forked worker: the parts of ``subprocess.Popen`` it uses
    (``pid``, ``stdout``, ``stderr``, ``kill``, ``wait``)."""

    def __init__(self, stdout: Any, stderr: Any) -> None:
        self.pid: int | None = None
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._started = threading.Event()
        self._exited = threading.Event()
        self._kill_asked = False
        self._lock = threading.Lock()

    def _set_pid(self, pid: int) -> None:
        with self._lock:
            self.pid = pid
            kill = self._kill_asked
        self._started.set()
        if kill:
            self.kill()

    def _set_exit(self, status: int) -> None:
        self.returncode = status
        self._exited.set()

    def kill(self) -> None:
        with self._lock:
            if self.pid is None:
                self._kill_asked = True
                return
        if not self._exited.is_set():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired("forked worker", timeout or 0.0)
        return self.returncode  # type: ignore[return-value]


class ForkServerClient:
    """The driver's end of the fork server: sends spawn requests, reads pids and exits.

    Args:
        env: the environment of the server (the workers' environment).
        on_pid: called (from the reader thread) with each new child's worker id and process.
        on_lost: called once with the requests never answered when the server is gone
            (each ``(worker_id, fds, argv_tail, process)``), to start them another way.
    """

    def __init__(self, env: dict[str, str], on_pid: Callable[[str, ForkedProcess], None],
                 on_lost: Callable[[list[tuple[str, list[int], list[str], ForkedProcess]]], None]) -> None:
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamdata.core.worker", "--forkserver", str(child.fileno())],
            pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        child.close()
        self._on_pid = on_pid
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[list[int], list[str], ForkedProcess]] = {}
        self._by_pid: dict[int, ForkedProcess] = {}
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="streamdata-forkserver", daemon=True)
        self._reader.start()

    def spawn(self, worker_id: str, fds: list[int], argv_tail: list[str],
              stdout: Any, stderr: Any, env: dict[str, str] | None = None) -> ForkedProcess | None:
        """Ask for a worker; None when the server is gone (start it another way).

        ``fds`` are the child's ends (its socket, stdout and stderr), closed here once the
        child exists (or handed to ``on_lost``). ``env`` (the environment a fresh worker
        would get now: the driver's variables and ``sys.path``) and the driver's current
        directory replace the server's in the child, as for a worker started fresh."""
        proc = ForkedProcess(stdout, stderr)
        with self._lock:
            if not self.alive:
                return None
            self._pending[worker_id] = (fds, argv_tail, proc)
        try:
            socket.send_fds(self._sock, [pickle.dumps((worker_id, argv_tail, env, _cwd()))], fds)
        except OSError:
            with self._lock:
                self._pending.pop(worker_id, None)
            return None
        return proc

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            kind, key, value = pickle.loads(data)
            if kind == "spawned":
                with self._lock:
                    entry = self._pending.pop(key, None)
                    if entry is not None:
                        self._by_pid[value] = entry[2]
                if entry is not None:
                    for fd in entry[0]:
                        _close(fd)
                    entry[2]._set_pid(value)
                    self._on_pid(key, entry[2])
            elif kind == "exited":
                with self._lock:
                    proc = self._by_pid.pop(key, None)
                if proc is not None:
                    proc._set_exit(value)
        with self._lock:
            self.alive = False
            lost = [(wid, fds, tail, proc) for wid, (fds, tail, proc) in self._pending.items()]
            self._pending.clear()
            orphans = list(self._by_pid.values())
            self._by_pid.clear()
        for proc in orphans:  # their exit codes are no longer known
            proc._set_exit(-signal.SIGKILL if proc._kill_asked else 0)
        if lost:
            self._on_lost(lost)

    def close(self) -> None:
        """Stop the server (its children live on: they belong to the runtime)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._reader.join(2.0)
        self._sock.close()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the driver's directory was removed
        return None


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


# ---------------------------------------------------------------------------- the server
def serve(ctl_fd: int, run_worker: Callable[[], None]) -> None:
    """The server's loop: import, then fork a worker per request until the driver is gone.

    Each child sets ``sys.argv`` as a fresh worker's would be and calls ``run_worker``
    (the worker module's ``main``)."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    ctl = socket.socket(fileno=ctl_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    while True:
        try:
            readable, _, _ = select.select([ctl, wake_r], [], [], 1.0)
        except InterruptedError:
            readable = []
        if wake_r in readable:
            try:
                os.read(wake_r, 4096)
            except OSError:
                pass
        _reap(ctl, children)
        if ctl in readable:
            try:
                data, fds, _, _ = socket.recv_fds(ctl, 65536, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                return  # the driver is gone (its children notice on their own sockets)
            worker_id, argv_tail, env, cwd = pickle.loads(data)
            pid = os.fork()
            if pid == 0:
                _child(ctl, (wake_r, wake_w), fds, argv_tail, run_worker, env, cwd)
            children.add(pid)
            for fd in fds:
                _close(fd)
            try:
                ctl.send(pickle.dumps(("spawned", worker_id, pid)))
            except OSError:
                return


def _reap(ctl: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        try:
            ctl.send(pickle.dumps(("exited", pid, code)))
        except OSError:
            pass


def _child(ctl: socket.socket, wake: tuple[int, int], fds: list[int], argv_tail: list[str],
           run_worker: Callable[[], None], env: dict[str, str] | None, cwd: str | None) -> None:
    """In the new process: become a worker on the sockets and pipes the driver made."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        ctl.close()
        for fd in wake:
            _close(fd)
        sock_fd, out_fd, err_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        _close(out_fd)
        _close(err_fd)
        if env is not None:  # the driver's environment now, as a fresh worker would see it
            os.environ.clear()
            os.environ.update(env)
            for path in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
                if path and path not in sys.path:
                    sys.path.insert(0, path)
        if cwd:
            try:
                os.chdir(cwd)
            except OSError:
                pass
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:  # the server's seed must not be every worker's
            numpy_random.seed()
        sys.argv = [sys.argv[0], str(sock_fd), *argv_tail]
        run_worker()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported on the worker's stderr
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
