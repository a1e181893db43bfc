"""``Result`` of ``sd.train.run`` and the bookkeeping of report rounds.

Workers report independently; the driver records a report once every worker
made it (a *round*): rank 0's metrics, and the checkpoint directory the
workers' files were merged into. :class:`ReportRounds` does that matching and
is pure (no processes), so it is tested directly.

Example:
    >>> from streamdata.train.session import Report
    >>> rounds = ReportRounds(num_workers=2)
    >>> rounds.add(1, [Report(index=0, metrics={"loss": 2.0})])
    []
    >>> [r.metrics for r in rounds.add(0, [Report(index=0, metrics={"loss": 1.0})])]
    [{'loss': 1.0}]
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from streamdata.train.checkpoint import Checkpoint
from streamdata.train.session import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class Round:
    """A report every worker made: rank 0's metrics, the merged checkpoint path and
    every worker's metrics (``worker_metrics[i]``: world rank ``i``'s)."""

    index: int
    metrics: dict[str, Any]
    checkpoint_path: str | None
    worker_metrics: tuple[dict[str, Any], ...] = ()
    #: rank 0's ``report(validation=...)`` (False: none)
    validation: Any = False


class ReportRounds:
    """Matches the ``i``-th report of every worker into round ``i``."""

    def __init__(self, num_workers: int) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self._queues: list[deque[Report]] = [deque() for _ in range(num_workers)]

    def add(self, rank: int, reports: list[Report]) -> list[Round]:
        """Add worker ``rank``'s new reports (in order); returns the rounds they complete."""
        self._queues[rank].extend(reports)
        done = []
        while all(self._queues):
            parts = [q.popleft() for q in self._queues]
            indexes = {p.index for p in parts}
            if len(indexes) != 1:  # cannot happen: every worker numbers from the same base
                raise RuntimeError(f"training workers' reports are out of step: indexes {sorted(indexes)}")
            path = next((p.checkpoint_path for p in parts if p.checkpoint_path is not None), None)
            done.append(Round(index=parts[0].index, metrics=parts[0].metrics, checkpoint_path=path,
                              worker_metrics=tuple(p.metrics for p in parts),
                              validation=parts[0].validation if path is not None else False))
        return done

    def unmatched(self) -> list[int]:
        """How many reports of each worker wait for the other workers' matching ones."""
        return [len(q) for q in self._queues]


#: the file in a run's directory that ``Result.from_path`` reads
RESULT_FILE = "result.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What a training run produced (Ray Train's ``Result``).

    Attributes:
        metrics: rank 0's last recorded report (None when nothing was reported).
        metrics_history: rank 0's recorded reports, in order, across restarts.
        checkpoint: the latest recorded checkpoint (None when none was reported).
        error: the error that ended the run (None on success).
        path: the run's directory (checkpoints live in ``checkpoint_NNNNNN`` under it); None
            for a local-mode run (``ScalingConfig(num_workers=0)``), which stores nothing.
        num_failures: how many worker-group failures the run went through.
        best_checkpoints: every recorded checkpoint with the metrics reported with it.
        return_value: what the training function returned on the rank 0 worker (None when
            it returned nothing or the run failed), as Ray's.
    """

    metrics: dict[str, Any] | None
    metrics_history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    error: BaseException | None = None
    path: str | None = ""
    num_failures: int = 0
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = field(default_factory=list)

    #: the trainer's ``train_loop_config`` (None when it had none)
    config: dict[str, Any] | None = None
    return_value: Any = None

    @property
    def filesystem(self) -> Any:
        """The filesystem ``path`` is on (the local one: a ``pyarrow.fs.LocalFileSystem``)."""
        from pyarrow import fs
        return fs.LocalFileSystem()

    @classmethod
    def from_path(cls, path: str | os.PathLike, storage_filesystem: Any = None) -> Result:
        """The result of the finished (or failed) run whose directory is ``path``, read from
        the ``result.json`` the run writes there (metrics, kept checkpoints, failures).

        Raises:
            FileNotFoundError: ``path`` holds no run result.
        """
        if storage_filesystem is not None and type(storage_filesystem).__name__ != "LocalFileSystem":
            raise NotImplementedError("Result.from_path(storage_filesystem=...) supports only the local filesystem")
        path = os.path.abspath(os.fspath(path))
        file = os.path.join(path, RESULT_FILE)
        try:
            with open(file) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"Result.from_path: {path!r} is not a training run's directory (no "
                                    f"{RESULT_FILE})") from None
        kept = [(Checkpoint(os.path.join(path, name)), metrics) for name, metrics in data["checkpoints"]]
        latest = data.get("latest_checkpoint")
        return cls(metrics=data["metrics"], metrics_history=data["metrics_history"],
                   checkpoint=Checkpoint(os.path.join(path, latest)) if latest else None, path=path,
                   num_failures=data["num_failures"], best_checkpoints=kept, config=data.get("config"))

    def save(self) -> None:
        """Write ``result.json`` into the run's directory (what :meth:`from_path` reads);
        values JSON cannot hold are written as their ``repr``."""
        def rel(checkpoint: Checkpoint) -> str:
            return os.path.relpath(checkpoint.path, self.path)
        data = {"metrics": self.metrics, "metrics_history": self.metrics_history, "num_failures": self.num_failures,
                "checkpoints": [(rel(c), m) for c, m in self.best_checkpoints],
                "latest_checkpoint": rel(self.checkpoint) if self.checkpoint is not None else None,
                "config": self.config,
                "error": None if self.error is None else f"{type(self.error).__name__}: {self.error}"}
        tmp = os.path.join(self.path, RESULT_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, default=repr)
        os.replace(tmp, os.path.join(self.path, RESULT_FILE))

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint | None:
        """The kept checkpoint whose reported ``metric`` is the highest (``mode="max"``) or
        lowest (``"min"``); None when no kept checkpoint reported it.

        Example:
            >>> r = Result(metrics={}, best_checkpoints=[(Checkpoint("/a"), {"acc": 0.5}),
            ...                                          (Checkpoint("/b"), {"acc": 0.9})])
            >>> r.get_best_checkpoint("acc", "max").path
            '/b'
        """
        if mode not in ("max", "min"):
            raise ValueError(f"get_best_checkpoint(mode=...) must be 'max' or 'min', got {mode!r}")
        scored = [(m[metric], c) for c, m in self.best_checkpoints if isinstance(m.get(metric), (int, float))]
        if not scored:
            return None
        pick = max if mode == "max" else min
        return pick(scored, key=lambda pair: pair[0])[1]

    @property
    def metrics_dataframe(self) -> Any:
        """``metrics_history`` as a pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame(self.metrics_history)

    def __repr__(self) -> str:
        err = f", error={type(self.error).__name__}" if self.error is not None else ""
        return f"Result(metrics={self.metrics}, checkpoint={self.checkpoint}{err}, path={self.path!r})"


__all__ = ["ReportRounds", "Result", "Round"]
