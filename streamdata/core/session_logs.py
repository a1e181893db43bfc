"""The session's log directory: ``<temp>/streamdata/session_<time>_<pid>/logs``, as Ray's.

Each runtime makes one at start, points ``<temp>/streamdata/session_latest`` at it
and removes the oldest sessions beyond :data:`KEEP_SESSIONS` (never one whose
driver is still alive). Worker stdout/stderr go to ``worker-<id>-<pid>.out/.err``
(:class:`~streamdata.core.processes.LogStreamer`), the driver's ``streamdata``
logger to ``driver-<pid>.log``. ``STREAMDATA_TEMP_DIR`` moves the root.

Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> session = create_session_dir(root=root, keep=2)
    >>> os.path.isdir(os.path.join(session, "logs")), os.path.realpath(os.path.join(root, "session_latest")) == session
    (True, True)
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time

#: sessions kept in the root (the newest; live ones are never removed)
KEEP_SESSIONS = 10
#: set by the driver's runtime for its workers: the session directory (serve writes ``logs/serve/`` there)
SESSION_ENV = "STREAMDATA_SESSION_DIR"
LATEST = "session_latest"


def default_root() -> str:
    """``$STREAMDATA_TEMP_DIR`` or ``<temp>/streamdata``."""
    return os.environ.get("STREAMDATA_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "streamdata")


def new_session_path(root: str | None = None) -> str:
    """The path of a new session directory (not created yet): ``<root>/session_<time>_<pid>``."""
    root = root or default_root()
    now = time.time()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now)) + f"_{int(now * 1e6) % 1_000_000:06d}"
    return os.path.join(root, f"session_{stamp}_{os.getpid()}")


def create_session_dir(root: str | None = None, keep: int = KEEP_SESSIONS, path: str | None = None) -> str:
    """Make a new session directory (with ``logs/``), link ``session_latest`` to it, prune old ones."""
    root = root or default_root()
    path = path or new_session_path(root)
    os.makedirs(os.path.join(path, "logs"), exist_ok=True)
    link_tmp = os.path.join(root, f".{LATEST}.{os.getpid()}")
    try:
        if os.path.lexists(link_tmp):
            os.unlink(link_tmp)
        os.symlink(path, link_tmp)
        os.replace(link_tmp, os.path.join(root, LATEST))  # atomic: readers never see it missing
    except OSError:
        pass
    prune(root, keep, current=path)
    return path


def _pid_of(name: str) -> int | None:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune(root: str, keep: int, current: str | None = None) -> list[str]:
    """Remove the oldest session directories beyond ``keep`` whose driver is gone; returns them."""
    try:
        names = [n for n in os.listdir(root) if n.startswith("session_") and n != LATEST]
    except OSError:
        return []
    paths = sorted((os.path.join(root, n) for n in names), key=lambda p: os.path.getmtime(p)
                   if os.path.exists(p) else 0.0, reverse=True)
    removed = []
    for path in paths[keep:]:
        if path == current or _alive(_pid_of(os.path.basename(path))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def log_files(session_dir: str) -> list[dict]:
    """The files of the session's ``logs/`` and its subdirectories (``serve/...``): name and size."""
    logs = os.path.join(session_dir, "logs")
    out = []
    for dirpath, dirnames, filenames in os.walk(logs):
        dirnames.sort()
        rel = os.path.relpath(dirpath, logs)
        for name in sorted(filenames):
            try:
                size = os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                continue
            out.append({"file": name if rel == "." else f"{rel}/{name}", "size": size})
    return out


def tail(session_dir: str, name: str, max_bytes: int = 256 * 1024) -> str:
    """The last ``max_bytes`` of log file ``name`` (as :func:`log_files` names it, inside ``logs/``;
    anything else raises FileNotFoundError)."""
    parts = name.split("/") if name else []
    if not parts or len(parts) > 2 or any(not p or p.startswith(".") for p in parts):
        raise FileNotFoundError(f"no log file {name!r} in this session")
    path = os.path.join(session_dir, "logs", *parts)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no log file {name!r} in this session")
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        return f.read().decode(errors="replace")


def attach_driver_log(log_dir: str) -> logging.Handler | None:
    """Write the driver's ``streamdata`` log records to ``driver-<pid>.log`` too."""
    try:
        handler = logging.FileHandler(os.path.join(log_dir, f"driver-{os.getpid()}.log"), delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s\t%(levelname)s %(name)s %(filename)s:%(lineno)d -- %(message)s"))
    logging.getLogger("streamdata").addHandler(handler)
    return handler


def detach_driver_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("streamdata").removeHandler(handler)
        handler.close()
