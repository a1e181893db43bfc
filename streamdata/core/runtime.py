"""The driver's runtime loop: the I/O around :class:`~streamdata.core.state.RuntimeState`.

:class:`Runtime` owns the processes, sockets, timers and files; the state
machine owns the bookkeeping. Every input — a message from a worker, the
driver's own submission, put, request or dropped ref, a due timer, a worker's
death — becomes an event for :meth:`RuntimeState.handle`, and the commands it
returns are executed here (send, spawn, kill, reply, start a timer, free or
spill an object), all under one lock so events are applied one at a time, in
order.

Threads: user threads (through :mod:`streamdata.core.api`), the *reader*
thread (workers' messages, timers, the driver's ref changes) and the log
thread (:class:`~streamdata.core.processes.LogStreamer`, no state).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import selectors
import shutil
import signal
import tempfile
import threading
import time
import uuid
from typing import Any

import psutil

from streamdata.core import object_ref as object_ref_mod
from streamdata.core import forkserver, processes, session_logs
from streamdata.core import protocol as msgs
from streamdata.core.client import ClientBase
from streamdata.core.events import (
    FreeObject,
    KillWorker,
    MemoryPressure,
    ObjectSpilled,
    ReplyToDriver,
    Send,
    ShutdownStarted,
    SpawnWorker,
    SpillFailed,
    SpillObject,
    StartTimer,
    TimerFired,
    WorkerDied,
    WorkerMessage,
)
from streamdata.core.memory_monitor import MemoryMonitor, MemoryMonitorConfig
from streamdata.core.object_store import make_location, raise_open_file_limit, recycle_or_delete, spill_file
from streamdata.core.serialization import serialize
from streamdata.core.state import RuntimeState
from streamdata.errors import GetTimeoutError


class Runtime(ClientBase):
    """The embedded runtime of one driver process: the loop around a :class:`RuntimeState`."""

    def __init__(self, *, num_cpus: float, num_gpus: float, resources: dict[str, float],
                 object_store_memory: int, spill_dir: str | None, memory: float,
                 log_to_driver: bool = True, memory_monitor: MemoryMonitorConfig | None = None) -> None:
        token = uuid.uuid4().hex[:8]
        # ids carry the session's token, so refs outliving a session never touch the next one
        self._token = token
        super().__init__(id_prefix=f"{token}d")
        self.session = f"streamdata-{os.getuid()}-{os.getpid()}-{token}"
        base_shm = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        self.shm_dir = os.path.join(base_shm, self.session)
        os.makedirs(self.shm_dir, mode=0o700)
        raise_open_file_limit()
        self.spill_dir = os.path.join(spill_dir or tempfile.gettempdir(), self.session + "-spill")
        self.num_cpus = num_cpus
        total = {"CPU": float(num_cpus), "GPU": float(num_gpus), "memory": float(memory),
                 "object_store_memory": float(object_store_memory)}
        total.update({k: float(v) for k, v in resources.items()})
        #: bytes of freed segments kept for reuse (a tenth of the store, at most 1 GiB)
        self.recycle_limit = min(object_store_memory // 10, 1 << 30)
        self.lock = threading.RLock()
        self.state = RuntimeState(token=token, num_cpus=num_cpus, total=total,
                                  object_store_memory=object_store_memory)
        #: the worker processes, by worker id
        self.workers: dict[str, processes.WorkerProcess] = {}
        self._timers: list[tuple[float, int, int]] = []
        self._timer_seq = itertools.count()
        self._req_ids = itertools.count()
        self._pending_calls: dict[int, tuple[threading.Event, list]] = {}
        self._closed = False
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        #: ``<temp>/streamdata/session_<time>_<pid>``: its ``logs/`` has the driver's and workers' logs
        self.session_dir = session_logs.new_session_path()
        self.log_dir = os.path.join(self.session_dir, "logs")
        os.environ[session_logs.SESSION_ENV] = self.session_dir  # the workers' components log there too
        self._driver_log: list = []

        def set_up_session() -> None:  # in the log thread: start-up never waits for the disk
            session_logs.create_session_dir(path=self.session_dir, root=os.path.dirname(self.session_dir))
            self._driver_log.append(session_logs.attach_driver_log(self.log_dir))
        self.logs = processes.LogStreamer(self.log_dir, echo=log_to_driver, setup=set_up_session)
        self.reaper = processes.start_reaper([self.shm_dir, self.spill_dir])
        object_ref_mod.tracker.on_pending = self._wake
        self._reader = threading.Thread(target=self._read_loop, name="streamdata-runtime", daemon=True)
        self._reader.start()
        #: forks workers from a pre-imported process (None: every worker starts fresh)
        self.forkserver: forkserver.ForkServerClient | None = None
        if forkserver.enabled():
            self.forkserver = forkserver.ForkServerClient(forkserver.worker_env(), self._on_forked,
                                                          self._on_fork_lost)
        with self.lock:
            self._execute(self.state.start())
        self.memory_monitor = MemoryMonitor(memory_monitor or MemoryMonitorConfig.from_sources(),
                                            self._worker_pids, self._memory_pressure).start()

    # ------------------------------------------------------------------ feeding the state machine
    def _feed(self, event: Any) -> None:
        """Apply one event and execute its commands (the caller holds the lock)."""
        if type(event) is WorkerMessage:
            self._feed_message(event.worker_id, event.message)
            return
        state = self.state
        try:
            commands = state.handle(event)
        except BaseException:  # what the event did before it raised still happens
            self._execute(state.take_commands())
            raise
        self._execute(commands)

    def _feed_message(self, worker_id: str | None, msg: Any) -> None:
        """:meth:`_feed` of ``WorkerMessage(worker_id, msg)`` without building the event:
        the per-task path (submissions, results, ref changes)."""
        state = self.state
        try:
            commands = state.handle_message(worker_id, msg)
        except BaseException:
            self._execute(state.take_commands())
            raise
        if commands:
            self._execute(commands)

    def apply_local_refs(self) -> None:
        """Feed the driver process's own ref transitions (queued by ObjectRef)."""
        deltas = object_ref_mod.tracker.drain()
        if deltas:
            self._feed_message(None, msgs.RefsDelta(deltas))

    def _execute(self, commands: list) -> None:
        for command in commands:
            kind = type(command)
            if kind is Send:
                worker = self.workers.get(command.worker_id)
                if worker is not None:
                    worker.send(command.message)
            elif kind is ReplyToDriver:
                pending = self._pending_calls.pop(command.req_id, None)
                if pending is not None:
                    pending[1].append((command.ok, command.value))
                    pending[0].set()
            elif kind is SpawnWorker:
                self._spawn(command.worker_id, command.env)
            elif kind is KillWorker:
                worker = self.workers.get(command.worker_id)
                if worker is not None:
                    worker.kill()
            elif kind is FreeObject:
                recycle_or_delete(command.location, self.shm_dir, self.recycle_limit)
            elif kind is SpillObject:
                try:
                    location = spill_file(command.location, self.spill_dir)
                except OSError:  # the disk is full too: keep it in memory
                    self._feed(SpillFailed(command.obj_id))
                else:
                    self._feed(ObjectSpilled(command.obj_id, location))
            elif kind is StartTimer:
                heapq.heappush(self._timers, (time.monotonic() + command.delay, next(self._timer_seq),
                                              command.timer_id))
                self._wake()
            else:  # pragma: no cover - a new command without an executor
                raise TypeError(f"unknown runtime command {command!r}")

    # ------------------------------------------------------------------ memory monitor (its thread)
    def _worker_pids(self) -> dict[str, int]:
        return {worker_id: w.pid for worker_id, w in list(self.workers.items()) if w.pid is not None}

    def _memory_pressure(self, used: int, total: int, rss: dict[str, int]) -> None:
        with self.lock:
            if not self._closed:
                self._feed(MemoryPressure(used, total, self.memory_monitor.config.usage_threshold, rss))

    # ------------------------------------------------------------------ processes
    def _spawn(self, worker_id: str, env: dict | None) -> None:
        worker = None
        if forkserver.forkable_env(env) and self.forkserver is not None and self.forkserver.alive:
            worker = processes.fork_worker(self.forkserver, worker_id, self.shm_dir, self.spill_dir, env)
        if worker is None:
            worker = processes.spawn_worker(worker_id, self.shm_dir, self.spill_dir, env)
            self.logs.add(worker.proc, worker_id)
        self.workers[worker_id] = worker  # a forked one's logs are added with its pid (_on_forked)
        self._sel.register(worker.conn.fileno(), selectors.EVENT_READ, worker)
        try:
            self.reaper.stdin.write(b"")  # keep the reaper's pipe open
        except (OSError, ValueError):
            pass
        self._wake()

    def _on_forked(self, worker_id: str, proc: forkserver.ForkedProcess) -> None:
        """The fork server made ``worker_id``'s process (its reader thread)."""
        self.logs.add(proc, worker_id)

    def _on_fork_lost(self, lost: list) -> None:
        """The fork server died before it made these workers (or refused a GPU one): start
        them fresh on the sockets and pipes already made for them, in the environment
        they were to be forked with."""
        for worker_id, (sock_fd, out_w, err_w), tail, proc, env in lost:
            try:
                popen = processes.popen_worker(worker_id, sock_fd, out_w, err_w, *tail[1:], env)
            except OSError:
                popen = None
            for fd in (sock_fd, out_w, err_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if popen is None:  # its socket closes: the worker's death is handled as any other
                proc._set_exit(1)
                continue
            popen.stdout, popen.stderr = proc.stdout, proc.stderr  # the driver's ends of its pipes
            with self.lock:
                worker = self.workers.get(worker_id)
                if worker is not None and worker.proc is proc:
                    worker.proc = popen
            self.logs.add(popen, worker_id)
            if proc._kill_asked:
                popen.kill()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # ------------------------------------------------------------------ reader thread
    def _read_loop(self) -> None:
        while not self._closed:
            timeout = 0.2
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
            try:
                events = self._sel.select(timeout)
            except (OSError, ValueError):
                if self._closed:
                    return
                continue
            for key, _ in events:
                worker = key.data
                if worker is None:
                    try:
                        os.read(self._wake_r, 65536)
                    except OSError:
                        pass
                    continue
                try:
                    self._drain_worker(worker)
                except Exception:  # noqa: BLE001 - a bug in handling one message must not stop every worker's
                    logging.getLogger(__name__).exception("streamdata: handling a message of %s failed", worker)
            with self.lock:
                if self._closed:
                    return
                self.apply_local_refs()
                self._run_timers()

    def _drain_worker(self, worker: processes.WorkerProcess) -> None:
        conn = worker.conn
        try:
            while True:
                data = conn.recv()
                try:
                    msg = msgs.decode(data)
                except Exception as exc:  # noqa: BLE001 - no worker of ours writes it: the stream is unusable
                    raise OSError(f"undecodable message from worker {worker.worker_id}: {exc!r}") from exc
                with self.lock:
                    self.apply_local_refs()
                    self._feed_message(worker.worker_id, msg)
                if not conn.poll():
                    return
        except (EOFError, OSError, ConnectionResetError):
            with self.lock:
                self._on_worker_death(worker)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer_id = heapq.heappop(self._timers)
            self._feed(TimerFired(timer_id))

    def _on_worker_death(self, worker: processes.WorkerProcess) -> None:
        if not worker.alive:
            return
        worker.alive = False
        try:
            self._sel.unregister(worker.conn.fileno())
        except (KeyError, ValueError, OSError):
            pass
        worker.conn.close()
        self.workers.pop(worker.worker_id, None)
        exit_info = "" if self._closed else _exit_description(worker)
        worker.kill_group()  # the subprocesses it left (as Ray cleans a dead worker's group)
        self._feed(WorkerDied(worker.worker_id, exit_info))

    # ------------------------------------------------------------------ ClientBase transport (driver)
    def _submit(self, spec: dict) -> None:
        with self.lock:
            self.apply_local_refs()
            self._feed_message(None, msgs.Submit(spec))

    def _fetch_locations(self, ids: list[str], timeout: float | None) -> list:
        with self.lock:  # fast path: everything is ready already
            self.apply_local_refs()
            locations = self.state.ready_locations(ids)
        if locations is not None:
            return locations
        return self._call("get", ids, timeout, timeout=timeout)

    def _store(self, obj_id: str, value: Any) -> None:
        sobj = serialize(value)
        location = make_location(obj_id, sobj, self.shm_dir, self.spill_dir)
        with self.lock:
            self.apply_local_refs()
            self._feed_message(None, msgs.PutObject(obj_id, location, sobj.contained_ids))

    def _call(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        event = threading.Event()
        result: list = []
        with self.lock:
            req_id = next(self._req_ids)
            self._pending_calls[req_id] = (event, result)
            self.apply_local_refs()
            self._feed_message(None, msgs.Request(req_id, op, args))
        if not event.wait(timeout):
            with self.lock:
                self._pending_calls.pop(req_id, None)
            if not result:
                raise GetTimeoutError(f"{op} did not finish within {timeout} s")
        ok, value = result[0]
        if not ok:
            raise value
        return value

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self.memory_monitor.stop()
            workers = list(self.workers.values())
            self._feed(ShutdownStarted())
        self._wake()
        deadline = time.monotonic() + 2.0
        for worker in workers:
            try:
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001
                worker.kill()
                try:
                    worker.proc.wait(2.0)
                except Exception:  # noqa: BLE001
                    pass
        for worker in workers:
            worker.kill_group()  # what its tasks started goes with it, as on Ray
            try:
                worker.conn.close()
            except OSError:
                pass
        self._reader.join(timeout=2.0)
        if self.forkserver is not None:
            self.forkserver.close()
        self.logs.stop()
        for handler in self._driver_log:
            session_logs.detach_driver_log(handler)
        shutil.rmtree(self.shm_dir, ignore_errors=True)
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        try:
            self.reaper.stdin.close()
            self.reaper.wait(2.0)
        except Exception:  # noqa: BLE001
            pass
        if object_ref_mod.tracker.on_pending == self._wake:
            object_ref_mod.tracker.on_pending = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


def _exit_description(worker: processes.WorkerProcess) -> str:
    try:
        code = worker.proc.wait(timeout=1.0)
    except Exception:  # noqa: BLE001
        return f"pid {worker.pid}"
    if code is not None and code < 0:
        try:
            return f"pid {worker.pid} killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"pid {worker.pid} killed by signal {-code}"
    return f"pid {worker.pid} exited with code {code}"


def default_object_store_memory() -> int:
    """30% of the machine's memory, capped by what /dev/shm can hold."""
    total = psutil.virtual_memory().total
    size = int(total * 0.3)
    try:
        shm = shutil.disk_usage("/dev/shm").total
        size = min(size, int(shm * 0.8))
    except OSError:
        pass
    return size
