"""Worker processes forked from a pre-imported template process (a fork server).

Starting a worker with ``python -m streamdata.core.worker`` costs a Python start-up and
the imports of streamdata, numpy, pyarrow and pandas: ~0.8 s of CPU. Every actor gets a
process of its own (and a dead actor's process is never reused), so an actor pool that
starts with each execution paid that on every run, on the CPUs the run itself needed.
The fork server is started once per session (``python -c <_BOOT> --forkserver``, which
runs the worker module's ``main``); it imports what a worker needs, then forks a fresh worker per request
in a few milliseconds. Each child is a new process (its own pid, memory, sockets,
stdout/stderr pipes) that shares the already-imported modules copy-on-write.

Those imports are most of what a script's first query waits for, so ``import streamdata``
starts the server (:func:`prestart`) and ``sd.init`` adopts it: its imports overlap the
driver's own import and whatever the script does before its first query. A server that
was started with other environment variables than the runtime's now is not adopted (its
imports read them; a changed ``sys.path`` is the exception, see :func:`same_environment`);
one that nobody adopts exits after ``ADOPT_WITHIN_S``.

The server is single-threaded (nothing it imports starts a thread), so forking it is
safe. It reports each child's exit status to the driver (the children are its
children, not the driver's). If the server is gone, the driver starts workers the
usual way (:func:`streamdata.core.processes.spawn_worker`).

Workers started without an environment of their own come from the server, and so do
GPU actors, whose only variable of their own is ``CUDA_VISIBLE_DEVICES``: the child sets
it (with the driver's environment) before it runs anything, and CUDA reads it when a
process first initialises CUDA, which the template never does (it imports no CUDA
library; if one is ever found loaded in it, it refuses GPU workers, which then start
fresh). A worker with other variables of its own (``runtime_env`` ``env_vars``) starts
fresh: libraries the template imported (numpy's BLAS, Arrow's memory pool) read theirs
at import.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable

#: environment variable that turns the fork server off (``0``): every worker is started fresh
ENV_SWITCH = "STREAMDATA_FORKSERVER"

#: modules the server imports before it forks anyone: what nearly every data task needs
PRELOAD = ("numpy", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "pyarrow.dataset",
           "pyarrow.pandas_compat", "pandas", "fsspec", "streamdata.exec.operators.map_task",
           "streamdata.io.parquet", "streamdata.io.parquet_encoding")


#: environment variable that keeps ``import streamdata`` from starting the server (``0``)
PRESTART_SWITCH = "STREAMDATA_PRESTART"

#: how long a server started by ``import streamdata`` waits for a runtime to adopt it
ADOPT_WITHIN_S = 300.0

#: the message that tells a server started early that a runtime adopted it
ADOPT = b"adopt"

#: variables ``sd.init`` sets for its workers before it adopts the server (the session's
#: log folder, its namespace, the job's ``runtime_env``: ``session_logs.SESSION_ENV``,
#: ``runtime_context.NAMESPACE_ENV``, ``remote_function.JOB_RUNTIME_ENV``); every child
#: gets them with its own environment, and the server's imports never read them
SESSION_KEYS = frozenset({"STREAMDATA_SESSION_DIR", "STREAMDATA_NAMESPACE", "STREAMDATA_RUNTIME_ENV"})


def worker_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker process (and of the fork server): the driver's, with
    ``sys.path`` as ``PYTHONPATH``, and ``env`` on top.

    Example:
        >>> worker_env({"A": "1"})["A"], worker_env()["STREAMDATA_WORKER"]
        ('1', '1')
    """
    full_env = dict(os.environ)
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)  # "": the driver's directory
    full_env["STREAMDATA_WORKER"] = "1"
    if env:
        full_env.update(env)
    return full_env


def same_environment(started: dict[str, str], now: dict[str, str]) -> bool:
    """Whether a server started with ``started`` serves a runtime whose workers get ``now``:
    the same variables, apart from those the runtime sets for its session and
    ``PYTHONPATH``. A script that changes ``sys.path`` after ``import streamdata`` keeps
    the server: its imports came from where the driver's own did, and each forked worker
    puts the driver's ``sys.path`` entries it lacks in front of its own (``_child``), as a
    worker started fresh would have them.

    Example:
        >>> same_environment({"A": "1"}, {"A": "1", "STREAMDATA_SESSION_DIR": "/tmp/s"})
        True
        >>> same_environment({"A": "1", "PYTHONPATH": "/a"}, {"A": "1", "PYTHONPATH": "/src:/a"})
        True
        >>> same_environment({"A": "1"}, {"A": "2"}), same_environment({"A": "1"}, {})
        (False, False)
    """
    def strip(env: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if k not in SESSION_KEYS and k != "PYTHONPATH"}
    return strip(started) == strip(now)


#: the variables a GPU grant gives a worker: a worker with only these of its own is forked
GPU_ENV_KEYS = frozenset({"CUDA_VISIBLE_DEVICES"})

#: modules that load or initialise CUDA: a template with one of them forks no GPU worker
CUDA_MODULES = ("torch", "cupy", "jax", "tensorflow", "pycuda", "numba.cuda", "pyarrow.cuda")


def forkable_env(env: dict[str, str] | None) -> bool:
    """Whether a worker with ``env`` of its own may be forked from the template.

    Example:
        >>> forkable_env(None), forkable_env({"CUDA_VISIBLE_DEVICES": "0"})
        (True, True)
        >>> forkable_env({"CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "1"})
        False
    """
    return not env or set(env) <= GPU_ENV_KEYS


def cuda_loaded(modules: Any, maps: str) -> bool:
    """Whether a process with these ``sys.modules`` and ``/proc/self/maps`` text has loaded
    CUDA (a CUDA module imported, or the driver library ``libcuda`` mapped): a process
    forked from it must not use the GPU.

    Example:
        >>> cuda_loaded({"numpy": None}, "7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6")
        False
        >>> cuda_loaded({"torch": None}, ""), cuda_loaded({}, "/usr/lib/libcuda.so.1")
        (True, True)
    """
    return any(name in modules for name in CUDA_MODULES) or "libcuda.so" in maps


def enabled() -> bool:
    """Whether workers come from a fork server (``STREAMDATA_FORKSERVER=0`` turns it off).

    Example:
        >>> isinstance(enabled(), bool)
        True
    """
    return _on(ENV_SWITCH)


def _on(switch: str) -> bool:
    return os.environ.get(switch, "1") not in ("0", "false", "False", "")


#: the server's command: its imports (streamdata's, then :data:`PRELOAD`) build many objects
#: and next to no garbage, so the collector is off until they are done (~15% of their time);
#: :func:`serve` turns it back on before it forks anyone
#: the first statement of every worker's ``python -c``: that puts the current directory first on
#: ``sys.path``, ahead of the driver's ``sys.path`` in ``PYTHONPATH``; dropped, so that a worker imports
#: what the driver imports (a directory holding another ``streamdata`` checkout shadows nothing)
WORKER_PATH_BOOT = "import sys; sys.path[:1] == [''] and sys.path.pop(0); "
_BOOT = WORKER_PATH_BOOT + "import gc; gc.disable(); from streamdata.core.worker import main; main()"


def start_server(env: dict[str, str], adopt_within_s: float | None = None
                 ) -> tuple[subprocess.Popen, socket.socket]:
    """Start a server process with ``env``: the process, and the driver's end of its control
    socket. ``adopt_within_s``: it exits unless :data:`ADOPT` arrives within that time."""
    sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    argv = [sys.executable, "-c", _BOOT, "--forkserver", str(child.fileno())]
    if adopt_within_s is not None:
        argv.append(str(adopt_within_s))
    try:
        proc = subprocess.Popen(argv, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    except BaseException:
        sock.close()
        raise
    finally:
        child.close()
    return proc, sock


#: the server ``import streamdata`` started: (process, socket, its environment, the pid
#: of the process that started it), until a runtime adopts or discards it
_early: tuple[subprocess.Popen, socket.socket, dict[str, str], int] | None = None


def prestart() -> None:
    """Start the server now, so its imports overlap the driver's (``import streamdata``
    calls this). Not in workers, nor where the server or this is switched off
    (``STREAMDATA_PRESTART=0``)."""
    global _early
    if (_early is not None or os.environ.get("STREAMDATA_WORKER") or not enabled()
            or not _on(PRESTART_SWITCH) or not hasattr(socket, "send_fds")):
        return
    env = worker_env()
    try:
        proc, sock = start_server(env, ADOPT_WITHIN_S)
    except OSError:
        return
    _early = (proc, sock, env, os.getpid())


def adopt_early(env: dict[str, str]) -> tuple[subprocess.Popen, socket.socket] | None:
    """The server :func:`prestart` started, if it still runs, was started by this process
    and with ``env``; None otherwise (a server that doesn't fit is told to exit)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    proc, sock, started_env, pid = early
    if pid != os.getpid():  # a forked child's copy: the server belongs to its parent
        return None
    if proc.poll() is None and same_environment(started_env, env):
        try:
            sock.send(ADOPT)
        except OSError:  # it is exiting: the caller starts another
            sock.close()
            return None
        return proc, sock
    sock.close()  # the server sees the end of its control socket and exits
    return None


def discard_early() -> None:
    """Tell the server :func:`prestart` started to exit (a runtime that forks no workers
    here: ``backend="ray"``)."""
    global _early
    early, _early = _early, None
    if early is not None and early[3] == os.getpid():
        early[1].close()


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
        on_lost: called with the requests the server will never answer (it is gone, or it
            refused a GPU worker), each ``(worker_id, fds, argv_tail, process, env)``, to
            start them another way.
    """

    def __init__(self, env: dict[str, str], on_pid: Callable[[str, ForkedProcess], None],
                 on_lost: Callable[[list[tuple[str, list[int], list[str], ForkedProcess]]], None]) -> None:
        self.proc, self._sock = adopt_early(env) or start_server(env)
        self._on_pid = on_pid
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[list[int], list[str], ForkedProcess, dict | None]] = {}
        self._by_pid: dict[int, ForkedProcess] = {}
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="streamdata-forkserver", daemon=True)
        self._reader.start()

    def spawn(self, worker_id: str, fds: list[int], argv_tail: list[str],
              stdout: Any, stderr: Any, env: dict[str, str] | None = None,
              gpu: bool = False) -> ForkedProcess | None:
        """Ask for a worker; None when the server is gone (start it another way).

        ``fds`` are the child's ends (its socket, stdout and stderr), closed here once the
        child exists (or handed to ``on_lost``). ``env`` (the environment a fresh worker
        would get now: the driver's variables and ``sys.path``) and the driver's current
        directory replace the server's in the child, as for a worker started fresh.
        ``gpu``: the worker will use a GPU (the server refuses it if CUDA is loaded in it)."""
        proc = ForkedProcess(stdout, stderr)
        with self._lock:
            if not self.alive:
                return None
            self._pending[worker_id] = (fds, argv_tail, proc, env)
        try:
            socket.send_fds(self._sock, [pickle.dumps((worker_id, argv_tail, env, _cwd(), gpu))], fds)
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
            elif kind == "refused":  # start it fresh
                with self._lock:
                    entry = self._pending.pop(key, None)
                if entry is not None:
                    self._on_lost([(key, *entry)])
            elif kind == "exited":
                with self._lock:
                    proc = self._by_pid.pop(key, None)
                if proc is not None:
                    proc._set_exit(value)
        with self._lock:
            self.alive = False
            lost = [(wid, *entry) for wid, entry in self._pending.items()]
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
def serve(ctl_fd: int, run_worker: Callable[[], None], adopt_within_s: float | None = None) -> None:
    """The server's loop: import, then fork a worker per request until the driver is gone.

    Each child sets ``sys.argv`` as a fresh worker's would be and calls ``run_worker``
    (the worker module's ``main``). ``adopt_within_s``: a server started before any runtime
    (:func:`prestart`) exits if no runtime adopts it within that time."""
    import importlib

    adopt_by = None if adopt_within_s is None else time.monotonic() + adopt_within_s

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    refuse_gpu = cuda_loaded(sys.modules, _read_maps())
    # the imported modules' objects move to the permanent generation: a child's garbage
    # collections never write to them, so their pages stay shared with the template
    # instead of being copied into every worker (~20 MiB each after its first full
    # collection). No collection first: the imports leave ~1,000 garbage objects of
    # 140,000, and a full collection here would cost the first fork 65-85 ms.
    gc.freeze()
    gc.enable()  # (off since the server's start: _BOOT) workers collect as usual
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
        if adopt_by is not None and ctl not in readable and time.monotonic() > adopt_by:
            return  # started early, and no runtime came
        if ctl in readable:
            try:
                data, fds, _, _ = socket.recv_fds(ctl, 65536, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                return  # the driver is gone (its children notice on their own sockets)
            if data == ADOPT:
                adopt_by = None
                continue
            worker_id, argv_tail, env, cwd, gpu = pickle.loads(data)
            if gpu and refuse_gpu:
                for fd in fds:
                    _close(fd)
                try:
                    ctl.send(pickle.dumps(("refused", worker_id, None)))
                except OSError:
                    return
                continue
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


def _read_maps() -> str:
    try:
        with open("/proc/self/maps") as f:
            return f.read()
    except OSError:  # not Linux: the modules alone tell
        return ""


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
        try:
            os.setpgid(0, 0)  # its own process group, as a spawned worker (WorkerProcess.kill_group)
        except OSError:
            pass
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
