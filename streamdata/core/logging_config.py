"""``LoggingConfig`` (Ray's ``ray.LoggingConfig``): how the driver and workers format Python logs.

``sd.init(logging_config=LoggingConfig(encoding="JSON", log_level="INFO"))`` sets
up the root logger of the driver and of every worker (through the
``STREAMDATA_LOGGING_CONFIG`` environment variable, which workers inherit): one
stderr handler whose records carry the process's pid and, inside a task, its
task id. ``"TEXT"`` writes readable lines, ``"JSON"`` one JSON object per line.

Example:
    >>> import json, logging
    >>> config = LoggingConfig(encoding="JSON", log_level="DEBUG")
    >>> record = logging.LogRecord("app", logging.INFO, "f.py", 3, "hello %s", ("you",), None)
    >>> json.loads(config.formatter().format(record))["message"]
    'hello you'
    >>> LoggingConfig(encoding="XML")
    Traceback (most recent call last):
    ...
    ValueError: LoggingConfig(encoding='XML'): expected one of ['JSON', 'TEXT']
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field

ENV = "STREAMDATA_LOGGING_CONFIG"
ENCODINGS = ("JSON", "TEXT")
_STANDARD = ("asctime", "levelname", "name", "filename", "lineno", "message", "process")


@dataclass
class LoggingConfig:
    """Ray's logging configuration: ``encoding``, ``log_level``, ``additional_log_standard_attrs``."""

    encoding: str = "TEXT"
    log_level: str = "INFO"
    additional_log_standard_attrs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"LoggingConfig(encoding={self.encoding!r}): expected one of {sorted(ENCODINGS)}")
        level = self.log_level
        if not isinstance(level, int) and not isinstance(logging.getLevelName(str(level).upper()), int):
            raise ValueError(f"LoggingConfig(log_level={level!r}) is not a logging level")
        if not isinstance(self.additional_log_standard_attrs, (list, tuple)):
            raise TypeError("LoggingConfig(additional_log_standard_attrs=...) must be a list of "
                            f"LogRecord attribute names, got {self.additional_log_standard_attrs!r}")

    def formatter(self) -> logging.Formatter:
        extra = tuple(self.additional_log_standard_attrs)
        if self.encoding == "JSON":
            return _JsonFormatter(extra)
        return _TextFormatter(extra)

    def _level(self) -> int:
        return self.log_level if isinstance(self.log_level, int) else logging.getLevelName(self.log_level.upper())

    def apply(self) -> None:
        """Configure this process's root logger (one stderr handler, replaced on a second call)."""
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_streamdata_logging_config", False):
                root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler._streamdata_logging_config = True  # type: ignore[attr-defined]
        handler.setFormatter(self.formatter())
        root.addHandler(handler)
        root.setLevel(self._level())

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def _context() -> dict:
    out: dict = {"process": os.getpid()}
    try:
        from streamdata.core import context
        client = context.get_client()
        task_id = getattr(getattr(client, "context", None), "task_id", None)
        if task_id:
            out["task_id"] = task_id
    except Exception:  # noqa: BLE001
        pass
    return out


class _TextFormatter(logging.Formatter):
    def __init__(self, extra: tuple) -> None:
        super().__init__("%(asctime)s\t%(levelname)s %(filename)s:%(lineno)d -- %(message)s")
        self._extra = extra

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        attrs = {**_context(), **{k: getattr(record, k, None) for k in self._extra}}
        return text + " " + " ".join(f"{k}={v}" for k, v in attrs.items())


class _JsonFormatter(logging.Formatter):
    def __init__(self, extra: tuple) -> None:
        super().__init__()
        self._extra = extra

    def format(self, record: logging.LogRecord) -> str:
        out = {"asctime": self.formatTime(record), "levelname": record.levelname, "name": record.name,
               "filename": record.filename, "lineno": record.lineno, "message": record.getMessage(),
               **_context(), **{k: getattr(record, k, None) for k in self._extra}}
        if record.exc_info:
            out["exc_text"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def apply_from_env() -> None:
    """In a worker: apply the driver's ``LoggingConfig`` if it passed one."""
    raw = os.environ.get(ENV)
    if raw:
        try:
            LoggingConfig(**json.loads(raw)).apply()
        except (ValueError, TypeError):
            pass


def coerce(value: object) -> LoggingConfig | None:
    """``sd.init(logging_config=...)``: a LoggingConfig (Ray's or ours), a dict of its fields, or None."""
    if value is None or isinstance(value, LoggingConfig):
        return value  # type: ignore[return-value]
    if isinstance(value, dict):
        return LoggingConfig(**value)
    if all(hasattr(value, k) for k in ("encoding", "log_level")):  # ray.LoggingConfig
        return LoggingConfig(encoding=value.encoding, log_level=value.log_level,  # type: ignore[attr-defined]
                             additional_log_standard_attrs=list(getattr(value, "additional_log_standard_attrs", [])))
    raise TypeError(f"logging_config must be a LoggingConfig (or a dict of its fields), got {type(value).__name__}")
