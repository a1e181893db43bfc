"""Worker processes as the driver sees them: start, talk to, stream logs of, reap.

Each worker is a ``python -c`` child running ``streamdata.core.worker.main``, with the
driver's ``sys.path`` (not the current directory) for its imports, connected by a Unix
socket pair (no TCP port anywhere). Its stdout/stderr lines reach the driver's
stdout/stderr prefixed with the worker's pid. A small *reaper* process removes
the session's shared-memory files and kills the workers if the driver dies
without calling ``shutdown()``.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from streamdata.core.forkserver import WORKER_PATH_BOOT, worker_env
from streamdata.core.message_channel import MessageChannel
from streamdata.core.protocol import encode

_REAPER = r"""
import os, shutil, signal, sys
sys.stdin.buffer.read()            # returns at EOF: the driver is gone
for d in sys.argv[1:]:
    if d.startswith("pid:"):
        try: os.kill(int(d[4:]), signal.SIGKILL)
        except OSError: pass
    else:
        shutil.rmtree(d, ignore_errors=True)
"""


class WorkerProcess:
    """One worker child process and its connection (what the scheduler knows of it is
    :class:`~streamdata.core.state.WorkerState`)."""

    __slots__ = ("worker_id", "proc", "conn", "alive", "send_lock")

    def __init__(self, worker_id: str, proc: Any, conn: MessageChannel) -> None:
        self.worker_id = worker_id
        #: a ``subprocess.Popen``, or a :class:`~streamdata.core.forkserver.ForkedProcess`
        self.proc = proc
        self.conn = conn
        self.alive = True
        self.send_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The process id (None while a forked worker's is not known yet)."""
        return self.proc.pid

    def send(self, msg: Any) -> None:
        if not self.alive:
            return
        data = encode(msg)
        try:
            with self.send_lock:
                self.conn.send(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the reader thread sees EOF and handles the death

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass

    def kill_group(self) -> None:
        """Kill what the worker started and left behind: each worker leads its own process
        group, which Ray's default cleanup (``RAY_process_group_cleanup_enabled``) kills when
        the worker exits, so a task's subprocesses do not outlive their worker."""
        pid = self.pid
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:  # gone already, or never its own group
                pass

    def __repr__(self) -> str:
        return f"Worker({self.worker_id}, pid={self.pid})"


def popen_worker(worker_id: str, child_fd: int, stdout: Any, stderr: Any, shm_dir: str, spill_dir: str,
                 env: dict[str, str] | None) -> subprocess.Popen:
    """A fresh worker process (``streamdata.core.worker.main``) on the socket ``child_fd``."""
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_PATH_BOOT + "from streamdata.core.worker import main; main()",
         str(child_fd), worker_id, shm_dir, spill_dir],
        pass_fds=(child_fd,), env=worker_env(env), stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, close_fds=True, process_group=0)  # its own group: see kill_group


def spawn_worker(worker_id: str, shm_dir: str, spill_dir: str, env: dict[str, str] | None) -> WorkerProcess:
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = popen_worker(worker_id, child_sock.fileno(), subprocess.PIPE, subprocess.PIPE, shm_dir, spill_dir, env)
    child_sock.close()
    return WorkerProcess(worker_id, proc, MessageChannel(parent_sock))


def fork_worker(server: Any, worker_id: str, shm_dir: str, spill_dir: str,
                env: dict[str, str] | None = None) -> WorkerProcess | None:
    """A worker forked by ``server`` (a :class:`~streamdata.core.forkserver.ForkServerClient`);
    None when the server is gone. Its pid is known once the server answers. ``env``: its
    own variables (a GPU grant's ``CUDA_VISIBLE_DEVICES``), set before it runs anything."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child_fds = [os.dup(child_sock.fileno()), out_w, err_w]
    child_sock.close()
    stdout, stderr = os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)
    proc = server.spawn(worker_id, child_fds, [worker_id, shm_dir, spill_dir], stdout, stderr,
                        worker_env(env), gpu=bool(env))
    if proc is None:
        for fd in child_fds:
            os.close(fd)
        stdout.close()
        stderr.close()
        parent_sock.close()
        return None
    return WorkerProcess(worker_id, proc, MessageChannel(parent_sock))


def start_reaper(paths: list[str]) -> subprocess.Popen:
    """A watchdog that cleans ``paths`` (dirs, or ``pid:N`` to kill) when our stdin closes."""
    return subprocess.Popen([sys.executable, "-S", "-c", _REAPER, *paths], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                            start_new_session=True)


class LogStreamer:
    """Copies workers' stdout/stderr lines to the driver's, prefixed with the worker pid
    (unless ``echo`` is False: ``log_to_driver=False``), and to a file per worker and stream
    in ``log_dir`` (``worker-<id>-<pid>.out``/``.err``) when given."""

    def __init__(self, log_dir: str | None = None, echo: bool = True, setup: Any = None) -> None:
        self._log_dir = log_dir
        self._echo = echo
        self._setup = setup  # run first in the thread (creating the session's directories)
        self._files: dict[int, Any] = {}
        self._to_open: dict[int, str] = {}  # fd -> file name, opened by the thread (off the spawn path)
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._rpipe, self._wpipe = os.pipe()
        self._sel.register(self._rpipe, selectors.EVENT_READ, None)
        self._partial: dict[int, bytes] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="streamdata-logs", daemon=True)
        self._thread.start()

    def add(self, proc: subprocess.Popen, worker_id: str = "") -> None:
        with self._lock:
            for stream, is_err in ((proc.stdout, False), (proc.stderr, True)):
                if stream is not None:
                    os.set_blocking(stream.fileno(), False)
                    if self._log_dir is not None:
                        name = f"worker-{worker_id.rstrip('.')}-{proc.pid}.{'err' if is_err else 'out'}"
                        self._to_open[stream.fileno()] = name
                    self._sel.register(stream.fileno(), selectors.EVENT_READ, (proc.pid, is_err, stream))
        os.write(self._wpipe, b"x")

    def _open_pending(self) -> None:
        with self._lock:
            pending, self._to_open = self._to_open, {}
        for fd, name in pending.items():
            try:
                file = open(os.path.join(self._log_dir, name), "ab")  # type: ignore[arg-type]
            except OSError:
                continue
            with self._lock:
                self._files[fd] = file

    def _run(self) -> None:
        if self._setup is not None:
            try:
                self._setup()
            except OSError:
                pass
        while not self._stopped:
            if self._to_open:
                self._open_pending()
            for key, _ in self._sel.select(timeout=1.0):
                if key.data is None:
                    os.read(self._rpipe, 4096)
                    continue
                pid, is_err, stream = key.data
                fd = key.fd
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if fd in self._to_open:  # its file was asked for in this same wake-up
                    self._open_pending()
                file = self._files.get(fd)
                if file is not None:
                    try:
                        file.write(chunk)
                        file.flush()
                    except (OSError, ValueError):
                        pass
                if not chunk:
                    with self._lock:
                        self._sel.unregister(fd)
                        file = self._files.pop(fd, None)
                    if file is not None:
                        file.close()
                    rest = self._partial.pop(fd, b"")
                    if rest and self._echo:
                        self._emit(pid, is_err, rest)
                    stream.close()
                    continue
                if not self._echo:
                    continue
                data = self._partial.pop(fd, b"") + chunk
                *lines, rest = data.split(b"\n")
                if rest:
                    self._partial[fd] = rest
                for line in lines:
                    self._emit(pid, is_err, line)

    @staticmethod
    def _emit(pid: int, is_err: bool, line: bytes) -> None:
        out = sys.stderr if is_err else sys.stdout
        try:
            out.write(f"(worker pid={pid}) {line.decode(errors='replace')}\n")
            out.flush()
        except (ValueError, OSError):
            pass

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            files, self._files = list(self._files.values()), {}
        for file in files:
            try:
                file.close()
            except OSError:
                pass
        try:
            os.write(self._wpipe, b"x")
        except OSError:
            pass
