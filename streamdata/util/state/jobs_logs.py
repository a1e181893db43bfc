"""``ray.util.state``'s jobs and logs for the local runtime: ``list_jobs``, ``get_job``,
``list_logs`` and ``get_log``.

The local runtime runs one job, the driver's session: a ``DRIVER`` job whose id is
``get_runtime_context().get_job_id()``, ``RUNNING`` while the session lives. Logs are the
files of the session's log directory (:mod:`streamdata.core.session_logs`): the driver's
``driver-<pid>.log``, each worker's ``worker-<id>-<pid>.out`` / ``.err`` and Serve's
``serve/...``. ``get_log`` finds a file by name, or by the ``pid``, ``actor_id`` or
``task_id`` whose worker wrote it, and yields its last ``tail`` lines (``follow=True``
keeps yielding what is appended). On ``sd.init(backend="ray")`` the calls go to Ray's
own state API.

Example:
    >>> log_category("worker-3-1234.out"), log_category("driver-99.log"), log_category("serve/proxy.log")
    ('worker_out', 'driver', 'serve')
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

from streamdata.util.state.api import _ray_state, _rows
from streamdata.util.state.common import DEFAULT_LIMIT, DEFAULT_RPC_TIMEOUT, StateSchema, _col, build
from streamdata.util.state.exception import RayStateApiException


@dataclass
class JobState(StateSchema):
    job_id: str = _col(filterable=True)
    submission_id: Optional[str] = _col(filterable=True)
    type: str = _col(filterable=True)
    status: str = _col(filterable=True)
    entrypoint: str = _col(filterable=True)
    message: Optional[str] = _col()
    error_type: Optional[str] = _col(filterable=True)
    start_time: Optional[int] = _col()
    end_time: Optional[int] = _col()
    metadata: Optional[dict] = _col()
    runtime_env: Optional[dict] = _col()
    driver_info: Optional[dict] = _col()
    driver_exit_code: Optional[int] = _col()


def _session_dir() -> str:
    from streamdata.core.session_logs import SESSION_ENV

    session = os.environ.get(SESSION_ENV)
    if not session:
        raise RayStateApiException("no streamdata session is running here: call sd.init() first")
    return session


def _job_rows() -> list[dict]:
    import json

    from streamdata.core.remote_function import JOB_RUNTIME_ENV
    from streamdata.core.runtime_context import RuntimeContext

    session = _session_dir()
    raw_env = os.environ.get(JOB_RUNTIME_ENV)
    try:
        started = int(os.stat(session).st_mtime * 1000)
    except OSError:
        started = None
    job_id = RuntimeContext().get_job_id()
    return [{"job_id": job_id, "submission_id": None, "type": "DRIVER",
             "status": "RUNNING", "entrypoint": " ".join([os.path.basename(sys.executable), *sys.argv]),
             "message": None, "error_type": None, "start_time": started, "end_time": None, "metadata": {},
             "runtime_env": json.loads(raw_env) if raw_env else {}, "driver_exit_code": None,
             "driver_info": {"id": job_id, "node_ip_address": "127.0.0.1",
                             "pid": str(_driver_pid(session))}}]


def _driver_pid(session: str) -> int:
    """The driver's pid: the session directory's name ends with it."""
    tail = os.path.basename(session).rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else os.getpid()


def list_jobs(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
              timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
              _explain: bool = False) -> list[JobState]:
    """The jobs: on the local runtime, the driver's session."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.list_jobs(address=address, filters=filters, limit=limit, timeout=timeout, detail=detail,
                                   raise_on_missing_output=raise_on_missing_output, _explain=_explain)
    _check_address(address)
    return build(_job_rows(), JobState, filters, limit, True, "jobs")


def get_job(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
            _explain: bool = False) -> JobState | None:
    """The job of id ``id`` (or of submission id ``id``), None when there is none."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.get_job(id, address=address, timeout=timeout, _explain=_explain)
    return next((job for job in list_jobs(address=address)
                 if id in (job.job_id, job.submission_id)), None)


def log_category(name: str) -> str:
    """The group ``list_logs`` puts a log file in."""
    base = os.path.basename(name)
    if name.startswith("serve/"):
        return "serve"
    if base.startswith("driver-"):
        return "driver"
    if base.startswith("worker-"):
        return "worker_err" if base.endswith(".err") else "worker_out"
    return "other"


def list_logs(address: str | None = None, node_id: str | None = None, node_ip: str | None = None,
              glob_filter: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT) -> dict[str, list[str]]:
    """The session's log files by group (``driver``, ``worker_out``, ``worker_err``, ``serve``,
    ``other``), keeping only the names that match ``glob_filter``."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.list_logs(address=address, node_id=node_id, node_ip=node_ip, glob_filter=glob_filter,
                                   timeout=timeout)
    _check_address(address)
    from streamdata.core.session_logs import log_files

    groups: dict[str, list[str]] = {}
    for entry in log_files(_session_dir()):
        name = entry["file"]
        if glob_filter is None or fnmatch.fnmatch(name, glob_filter):
            groups.setdefault(log_category(name), []).append(name)
    return groups


def get_log(address: str | None = None, node_id: str | None = None, node_ip: str | None = None,
            filename: str | None = None, actor_id: str | None = None, task_id: str | None = None,
            pid: int | None = None, follow: bool = False, tail: int = 1000, timeout: int = DEFAULT_RPC_TIMEOUT,
            suffix: str = "out", encoding: str | None = "utf-8", errors: str | None = "strict",
            submission_id: str | None = None, attempt_number: int = 0, _interval: float | None = None,
            **kwargs: Any) -> Iterator[str]:
    """The last ``tail`` lines (-1: all) of one log file, each with its newline: the file
    named ``filename``, or the ``.out`` / ``.err`` (``suffix``) of the worker of ``pid``,
    ``actor_id`` or ``task_id``. The file is found and its tail read when this is called;
    ``follow=True`` then yields the lines written after that, until the iterator is closed.

    Raises:
        RayStateApiException: no such file, or no worker known for the id.
    """
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.get_log(address=address, node_id=node_id, node_ip=node_ip, filename=filename,
                                 actor_id=actor_id, task_id=task_id, pid=pid, follow=follow, tail=tail,
                                 timeout=timeout, suffix=suffix, encoding=encoding, errors=errors,
                                 submission_id=submission_id, attempt_number=attempt_number, _interval=_interval,
                                 **kwargs)
    _check_address(address)
    if submission_id is not None:
        raise RayStateApiException("get_log(submission_id=...): the local runtime runs no submitted jobs")
    if suffix not in ("out", "err"):
        raise ValueError(f"get_log(suffix=...) must be 'out' or 'err', got {suffix!r}")
    session = _session_dir()
    path = os.path.join(session, "logs", _log_name(session, filename, actor_id, task_id, pid, suffix, timeout))
    f = open(path, encoding=encoding or "utf-8", errors=errors or "strict")
    lines = f.readlines()
    last = lines if tail is None or tail < 0 else lines[len(lines) - min(tail, len(lines)):]
    return _lines(f, last, follow, _interval or 0.2)


def _lines(f: Any, last: list[str], follow: bool, interval: float) -> Iterator[str]:
    """``last``, then (``follow``) each line appended to ``f``; closes ``f`` when done or closed."""
    with f:
        yield from last
        while follow:
            line = f.readline()
            if line:
                yield line
            else:
                time.sleep(interval)


def _log_name(session: str, filename: str | None, actor_id: str | None, task_id: str | None, pid: int | None,
              suffix: str, timeout: float) -> str:
    from streamdata.core.session_logs import log_files

    names = [entry["file"] for entry in log_files(session)]
    if filename is not None:
        if filename not in names:
            raise RayStateApiException(f"get_log: no log file {filename!r} in this session; list_logs() names "
                                       f"{len(names)} files")
        return filename
    if pid is None and actor_id is not None:
        pid = next((row.get("pid") for row in _rows("actors", None, timeout) if row.get("actor_id") == actor_id),
                   None)
        if pid is None:
            raise RayStateApiException(f"get_log: no actor {actor_id!r} with a worker process in this session")
    if pid is None and task_id is not None:
        pid = next((row.get("worker_pid") for row in _rows("tasks", None, timeout)
                    if row.get("task_id") == task_id and row.get("worker_pid")), None)
        if pid is None:
            raise RayStateApiException(f"get_log: no task {task_id!r} that ran on a worker in this session")
    if pid is None:
        raise ValueError("get_log needs filename, pid, actor_id or task_id")
    wanted = f"-{int(pid)}.{suffix}"
    match = next((n for n in names if n.startswith("worker-") and n.endswith(wanted)), None)
    if match is None:
        raise RayStateApiException(f"get_log: no worker log of pid {pid} ({suffix}) in this session")
    return match


def _check_address(address: str | None) -> None:
    if address not in (None, "auto", "local"):
        raise ValueError(f"address={address!r}: the local runtime answers in this process "
                         "(use sd.init(backend='ray', address=...) for a cluster)")


__all__ = ["JobState", "get_job", "get_log", "list_jobs", "list_logs", "log_category"]
