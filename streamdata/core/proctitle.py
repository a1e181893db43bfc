"""A worker's process title, as Ray sets it: ``ray::<task name>`` while it runs a task (the
name ``.options(name=...)`` gave, else the function's), ``ray::<Class>.<method>`` while
an actor runs a call, ``ray::<Class>`` for an actor that has run none. Unlike Ray's, the
title is not set back to ``ray::IDLE`` / ``ray::<Class>`` after each call: it names what
the worker runs or ran last, so a worker running the same function again and again writes
it once (two writes per call cost pipelined actor calls 10-20%, measured in wave 16).
``ps``, ``top`` and ``psutil.Process().cmdline()[0]`` show it; the worker
keeps ``streamdata.core.worker <worker id>`` as its next arguments, so tools that look for
streamdata's workers by command line still find them.

Linux only: the title is written over the process's original command line (its length
bounds the title) through ``/proc/self/mem``, as the ``setproctitle`` package does without
its C extension; elsewhere, or when that is not allowed, titles are not set.

Example (in a child process, so as not to retitle this one):
    >>> import subprocess, sys
    >>> code = ("from streamdata.core.proctitle import set_title; set_title('ray::demo'); "
    ...         "print(open('/proc/self/cmdline', 'rb').read().split(bytes(1))[0].decode())")
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    'ray::demo'
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_state: dict[int, tuple[int, int, int] | None] = {}  # pid -> (its mem fd, start, size) or None


def _area() -> tuple[int, int, int] | None:
    """The writable command-line area of this process (opened once per process: a forked
    child must not write through its parent's ``/proc/<pid>/mem``), or None."""
    pid = os.getpid()
    if pid not in _state:
        for inherited in _state.values():  # a forked child's copy of its parent's fd
            if inherited is not None:
                os.close(inherited[0])
        _state.clear()
        try:
            with open("/proc/self/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (stat fields 48, 49)
            fd = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
            _state[pid] = (fd, start, end - start) if end - start > 1 else None
        except (OSError, ValueError, IndexError):
            _state[pid] = None
    return _state[pid]


def set_title(title: str, *args: str) -> None:
    """Show ``title`` (then ``args``) as this process's command line, cut to its original
    length; never raises. ``cmdline()[0]`` is the title, as for Ray's workers."""
    with _lock:
        area = _area()
        if area is None:
            return
        fd, start, size = area
        data = "\0".join((title, *args)).encode(errors="replace")[:size - 1]
        try:
            os.pwrite(fd, data.ljust(size, b"\0"), start)
        except OSError:
            _state[os.getpid()] = None
