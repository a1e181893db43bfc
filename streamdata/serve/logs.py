"""Serve's log files in the session's log directory, as Ray Serve's ``logs/serve/``,
and Ray Serve's :class:`LoggingConfig` (``serve.start``/``serve.run``/``@serve.deployment``
``logging_config=``): log level, ``TEXT`` or ``JSON`` lines, another directory
(``logs_dir``), and the replicas' access log (one line per request).

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

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("streamdata.serve")
#: the logger Ray Serve programs log to in their deployments (``logging.getLogger("ray.serve")``)
user_logger = logging.getLogger("ray.serve")
_handlers: dict[str, logging.Handler] = {}
_ENCODINGS = ("TEXT", "JSON")


@dataclass(frozen=True)
class LoggingConfig:
    """How serve's components log (Ray Serve's ``ray.serve.schema.LoggingConfig``).

    Args:
        encoding: ``"TEXT"`` lines or ``"JSON"`` objects, one a line.
        log_level: the level of the ``streamdata.serve`` and ``ray.serve`` loggers.
        logs_dir: the directory of the log files (default: the session's ``logs/serve``).
        enable_access_log: whether replicas log one line per request.
        additional_log_standard_attrs: ``LogRecord`` attributes added to every line.

    Example:
        >>> LoggingConfig(log_level="DEBUG").encoding
        'TEXT'
        >>> LoggingConfig(encoding="XML")
        Traceback (most recent call last):
        ...
        ValueError: LoggingConfig(encoding='XML'): expected one of ['JSON', 'TEXT']
    """

    encoding: str = "TEXT"
    log_level: int | str = "INFO"
    logs_dir: str | None = None
    enable_access_log: bool = True
    additional_log_standard_attrs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.encoding not in _ENCODINGS:
            raise ValueError(f"LoggingConfig(encoding={self.encoding!r}): expected one of {sorted(_ENCODINGS)}")
        level = self.log_level
        if isinstance(level, bool) or not (isinstance(level, int) or isinstance(
                logging.getLevelName(str(level).upper()), int)):
            raise ValueError(f"LoggingConfig(log_level={level!r}) is not a logging level (e.g. 'INFO', 'DEBUG')")
        if self.logs_dir is not None and not isinstance(self.logs_dir, str):
            raise TypeError(f"LoggingConfig(logs_dir=...) must be a path string or None, got {self.logs_dir!r}")
        if not isinstance(self.enable_access_log, bool):
            raise TypeError(f"LoggingConfig(enable_access_log=...) must be a bool, got {self.enable_access_log!r}")
        if not isinstance(self.additional_log_standard_attrs, (list, tuple)):
            raise TypeError("LoggingConfig(additional_log_standard_attrs=...) must be a list of LogRecord "
                            f"attribute names, got {self.additional_log_standard_attrs!r}")

    def level(self) -> int:
        level = self.log_level
        return level if isinstance(level, int) else logging.getLevelName(str(level).upper())

    def dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    model_dump = dict  # Ray's (pydantic) spelling


def coerce_logging_config(value: Any, where: str) -> dict[str, Any] | None:
    """``value`` (a LoggingConfig, Ray's, a dict of its fields, or None) as a checked dict.

    Example:
        >>> coerce_logging_config({"encoding": "JSON"}, "x")["encoding"]
        'JSON'
        >>> coerce_logging_config({"level": "INFO"}, "serve.run(logging_config)")
        Traceback (most recent call last):
        ...
        TypeError: serve.run(logging_config): unknown field(s) ['level']; valid: ['additional_log_standard_attrs', 'enable_access_log', 'encoding', 'log_level', 'logs_dir']
    """
    if value is None:
        return None
    if isinstance(value, LoggingConfig):
        return value.dict()
    if not isinstance(value, dict):
        dump = getattr(value, "model_dump", None)  # Ray's pydantic LoggingConfig
        if not callable(dump):
            raise TypeError(f"{where} must be a LoggingConfig or a dict of its fields, got {type(value).__name__}")
        value = dump()
    known = {f.name for f in dataclasses.fields(LoggingConfig)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise TypeError(f"{where}: unknown field(s) {unknown}; valid: {sorted(known)}")
    return LoggingConfig(**value).dict()


class _JsonFormatter(logging.Formatter):
    def __init__(self, tags: dict[str, str], extra: tuple) -> None:
        super().__init__()
        self._tags = tags
        self._extra = extra

    def format(self, record: logging.LogRecord) -> str:
        out = {"asctime": self.formatTime(record), "levelname": record.levelname, "logger": record.name,
               "message": record.getMessage(), "process": record.process, **self._tags,
               **{k: getattr(record, k, None) for k in self._extra}}
        request_id = getattr(record, "request_id", None)
        if request_id:
            out["request_id"] = request_id
        if record.exc_info:
            out["exc_text"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _TextFormatter(logging.Formatter):
    def __init__(self, tags: dict[str, str], extra: tuple) -> None:
        prefix = " ".join(tags.values())
        super().__init__(f"%(asctime)s\t%(levelname)s %(process)d{' ' + prefix if prefix else ''} -- %(message)s")
        self._extra = extra

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self._extra:
            text += " " + " ".join(f"{k}={getattr(record, k, None)}" for k in self._extra)
        return text


def attach_log_file(name: str, logging_config: dict[str, Any] | None = None,
                    tags: dict[str, str] | None = None) -> str | None:
    """Send this process's ``streamdata.serve`` (and ``ray.serve``) records to
    ``<logs_dir>/<name>.log`` as ``logging_config`` says (the session's ``logs/serve``,
    TEXT, INFO by default); returns the path."""
    config = LoggingConfig(**(logging_config or {}))
    directory = config.logs_dir
    if directory is None:
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
    extra = tuple(config.additional_log_standard_attrs)
    handler.setFormatter(_JsonFormatter(tags or {}, extra) if config.encoding == "JSON"
                         else _TextFormatter(tags or {}, extra))
    for log in (logger, user_logger):
        log.addHandler(handler)
        log.setLevel(config.level())
    _handlers[path] = handler
    return path


def detach_log_file(path: str | None) -> None:
    handler = _handlers.pop(path or "", None)
    if handler is not None:
        for log in (logger, user_logger):
            log.removeHandler(handler)
        handler.close()
