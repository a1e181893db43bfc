"""Serve's log files in the session's log directory, as Ray Serve's ``logs/serve/``.

The controller writes ``serve/controller_<pid>.log`` (replica starts and stops,
failed starts and health checks, autoscaling decisions) and each replica
``serve/replica_<app>_<deployment>_<id>.log``, through the ``streamdata.serve``
logger. The directory comes from ``STREAMDATA_SESSION_DIR``, which the driver's
runtime sets for its workers; without it nothing is written.

Example:
    >>> import os, tempfile
    >>> saved = os.environ.get("STREAMDATA_SESSION_DIR")
    >>> os.environ["STREAMDATA_SESSION_DIR"] = tempfile.mkdtemp()
    >>> path = attach_log_file("controller_doc")
    >>> logger.info("hello")
    >>> detach_log_file(path)
    >>> "hello" in open(path).read()
    True
    >>> if saved is None: del os.environ["STREAMDATA_SESSION_DIR"]
    ... else: os.environ["STREAMDATA_SESSION_DIR"] = saved
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("streamdata.serve")
_handlers: dict[str, logging.Handler] = {}


def attach_log_file(name: str) -> str | None:
    """Send ``streamdata.serve`` records of this process to ``logs/serve/<name>.log``; returns the path."""
    session = os.environ.get("STREAMDATA_SESSION_DIR")
    if not session:
        return None
    directory = os.path.join(session, "logs", "serve")
    safe = "".join(c if c.isalnum() or c in "-_.#" else "_" for c in name)
    path = os.path.join(directory, f"{safe}.log")
    if path in _handlers:
        return path
    try:
        os.makedirs(directory, exist_ok=True)
        handler = logging.FileHandler(path)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s\t%(levelname)s %(process)d -- %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    _handlers[path] = handler
    return path


def detach_log_file(path: str | None) -> None:
    handler = _handlers.pop(path or "", None)
    if handler is not None:
        logger.removeHandler(handler)
        handler.close()
