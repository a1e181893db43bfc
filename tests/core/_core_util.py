"""Helpers shared by the runtime tests (imported by the tests and, by reference, by workers).

Nothing here sleeps to wait for a condition: :func:`wait_for` polls a condition
with a deadline, and :func:`block_until_file` is what a task runs to stay busy
until the test releases it (it polls a file, with a deadline of its own so a
broken runtime cannot hang a worker forever).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import psutil

DEFAULT_TIMEOUT = 30.0


def wait_for(condition: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; return that value.

    Raises AssertionError naming ``what`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.01)


def block_until_file(path: str, timeout: float = 60.0) -> bool:
    """Inside a task: stay busy until ``path`` exists (False if the deadline passed)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def touch(path: str, text: str = "") -> None:
    """Create ``path`` atomically with ``text`` as its content."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def append_line(path: str, text: str) -> int:
    """Append a line to ``path``; returns how many lines the file has now."""
    with open(path, "a") as f:
        f.write(text + "\n")
    with open(path) as f:
        return sum(1 for _ in f)


def count_lines(path: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def gone(pid: int) -> bool:
    """Whether process ``pid`` is gone (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def runtime_children() -> list[psutil.Process]:
    """Live processes under this one that belong to the streamdata runtime."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "streamdata" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def anon_rss(pid: int) -> int:
    """Anonymous (private, not file- or shm-backed) resident memory of ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/pid/status")


def mapping_of(address: int, pid: int | str = "self") -> str | None:
    """The file backing the memory mapping that contains ``address`` in process ``pid``
    (None for anonymous memory or when no mapping holds it)."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5].strip() if len(parts) == 6 and parts[5].strip() else None
    return None


def shm_files(shm_dir: str) -> list[str]:
    try:
        return sorted(os.listdir(shm_dir))
    except FileNotFoundError:
        return []


def rendezvous(directory: str, parties: int, timeout: float = 30.0) -> bool:
    """Inside a task: announce itself in ``directory`` and wait until ``parties`` tasks did.

    Returns True only when all ``parties`` were running at the same time.
    """
    os.makedirs(directory, exist_ok=True)
    touch(os.path.join(directory, f"{os.getpid()}-{time.monotonic_ns()}"))
    deadline = time.monotonic() + timeout
    while len([n for n in os.listdir(directory) if ".tmp" not in n]) < parties:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
