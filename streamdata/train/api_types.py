"""Small public types of Ray Train: checkpoint upload modes, reported-checkpoint records,
preemption info, and the configs Ray keeps for compatibility (``SyncConfig``,
``LoggingConfig``; ``BackendConfig`` is re-exported from :mod:`streamdata.train.backend`).

Example:
    >>> CheckpointUploadMode("ASYNC") is CheckpointUploadMode.ASYNC
    True
    >>> LoggingConfig(log_level="debug").log_level
    'DEBUG'
    >>> TRAIN_DATASET_KEY
    'train'
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from streamdata.train.backend import BackendConfig

#: the dataset name ``get_dataset_shard()`` reads by default
TRAIN_DATASET_KEY = "train"


class CheckpointUploadMode(str, enum.Enum):
    """How ``report`` stores a checkpoint: ``SYNC`` (before returning), ``ASYNC`` (in the
    background in Ray; before returning here, the storage being local), ``NO_UPLOAD``."""

    ASYNC = "ASYNC"
    SYNC = "SYNC"
    NO_UPLOAD = "NO_UPLOAD"


class CheckpointConsistencyMode(str, enum.Enum):
    """Which reported checkpoints count as reported: ``COMMITTED`` or ``VALIDATED``."""

    COMMITTED = "COMMITTED"
    VALIDATED = "VALIDATED"


class ReportedCheckpointStatus(str, enum.Enum):
    """Where a reported checkpoint stands."""

    COMMITTED = "COMMITTED"
    PENDING_VALIDATION = "PENDING_VALIDATION"
    VALIDATED = "VALIDATED"
    VALIDATION_TIMEOUT = "VALIDATION_TIMEOUT"
    VALIDATION_FAILED = "VALIDATION_FAILED"


@dataclass(frozen=True)
class ReportedCheckpoint:
    """A checkpoint reported by the run, with the metrics reported with it."""

    checkpoint: Any
    metrics: dict[str, Any]
    status: ReportedCheckpointStatus = ReportedCheckpointStatus.COMMITTED


@dataclass(frozen=True)
class PreemptionInfo:
    """The deadline and the ranks of preempted nodes (``get_preemption_info``)."""

    deadline_ms: int | None
    preempted_node_to_ranks: dict[str, list[int]]


def get_preemption_info() -> PreemptionInfo | None:
    """The pending preemption of this run's nodes: always None on one local machine
    (nothing preempts it).

    Example:
        >>> get_preemption_info() is None
        True
    """
    return None


@dataclass(frozen=True)
class SyncConfig:
    """Ray's syncing of results to cloud storage: the run's directory is local here, so
    nothing is synced; the fields are checked and kept for compatibility."""

    sync_period: int = 300
    sync_timeout: int = 1800
    sync_artifacts: bool = False
    sync_artifacts_on_checkpoint: bool = True

    def __post_init__(self) -> None:
        for name in ("sync_period", "sync_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"SyncConfig({name}=...) must be a number of seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class LoggingConfig:
    """The level of the train loop's ``streamdata.train`` logger (Ray's ``LoggingConfig``)."""

    log_level: str = "INFO"

    def __post_init__(self) -> None:
        level = self.log_level.upper() if isinstance(self.log_level, str) else self.log_level
        if not isinstance(level, str) or not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"LoggingConfig(log_level=...) must be a logging level name such as 'INFO', "
                             f"got {self.log_level!r}")
        object.__setattr__(self, "log_level", level)


__all__ = ["TRAIN_DATASET_KEY", "CheckpointUploadMode", "CheckpointConsistencyMode", "ReportedCheckpointStatus",
           "ReportedCheckpoint", "PreemptionInfo", "get_preemption_info", "SyncConfig", "BackendConfig",
           "LoggingConfig"]
