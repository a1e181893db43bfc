"""Which reported checkpoints a run keeps (``CheckpointConfig``'s policy; pure, no I/O
except removing the directories it drops).

Checkpoints are ranked by ``checkpoint_score_attribute`` (``checkpoint_score_order``
"max" or "min"), or by report order when no attribute is set; the ``num_to_keep``
best are kept, and the latest checkpoint is always kept too (a restart resumes
from it), as in Ray Train. A checkpoint whose validation is still running is kept
until its metrics are final (:meth:`CheckpointManager.update_metrics`): it may rank
best once validated, and its score attribute may come from the validation.

Example:
    >>> from streamdata.train.config import CheckpointConfig
    >>> m = CheckpointManager(CheckpointConfig(num_to_keep=1, checkpoint_score_attribute="acc"),
    ...                       delete=lambda path: None)
    >>> m.register("/c0", {"acc": 0.9}); m.register("/c1", {"acc": 0.5}); m.register("/c2", {"acc": 0.7})
    >>> [p for p, _ in m.kept()], m.latest[0]
    (['/c0', '/c2'], '/c2')
"""

from __future__ import annotations

import math
import shutil
from typing import Any, Callable

from streamdata.train.config import CheckpointConfig


def _remove_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class CheckpointManager:
    """Keeps the registered ``(path, metrics)`` pairs the config says to keep."""

    def __init__(self, config: CheckpointConfig, *, delete: Callable[[str], None] = _remove_dir) -> None:
        self.config = config
        self._delete = delete
        self._entries: list[tuple[int, str, dict[str, Any]]] = []  # (report order, path, metrics)
        self._seq = 0
        self._pending: set[str] = set()  # paths whose validation is running
        self.latest: tuple[str, dict[str, Any]] | None = None

    def _score(self, entry: tuple[int, str, dict[str, Any]]) -> tuple[float, int]:
        seq, _, metrics = entry
        attr = self.config.checkpoint_score_attribute
        if attr is None:
            return (0.0, seq)
        value = metrics.get(attr)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return (-math.inf, seq)  # a checkpoint without the score ranks worst
        return (float(value) if self.config.checkpoint_score_order == "max" else -float(value), seq)

    def register(self, path: str, metrics: dict[str, Any], *, pending: bool = False) -> None:
        """Record a newly reported checkpoint and drop those no longer kept; ``pending``:
        its validation is running (its metrics are not final yet).

        Raises ``KeyError`` when ``checkpoint_score_attribute`` is set but missing
        from ``metrics`` of a checkpoint that is not being validated (as Ray does).
        """
        attr = self.config.checkpoint_score_attribute
        if attr is not None and attr not in metrics and not pending:
            raise KeyError(f"CheckpointConfig(checkpoint_score_attribute={attr!r}): the metrics reported with "
                           f"a checkpoint lack {attr!r}; reported: {sorted(metrics)}")
        self._entries.append((self._seq, path, dict(metrics)))
        self._seq += 1
        self.latest = (path, dict(metrics))
        if pending:
            self._pending.add(path)
        self._drop_beyond_keep()

    def update_metrics(self, path: str, metrics: dict[str, Any]) -> None:
        """A validation of ``path`` ended: merge its ``metrics`` (they win) and rank again.

        Example:
            >>> m = CheckpointManager(CheckpointConfig(num_to_keep=1, checkpoint_score_attribute="acc"),
            ...                       delete=lambda path: None)
            >>> m.register("/c0", {"loss": 1.0}, pending=True); m.register("/c1", {"acc": 0.5})
            >>> m.update_metrics("/c0", {"acc": 0.9}); [(p, m["acc"]) for p, m in m.kept()]
            [('/c0', 0.9), ('/c1', 0.5)]
        """
        self._pending.discard(path)
        for i, (seq, entry_path, entry_metrics) in enumerate(self._entries):
            if entry_path == path:
                self._entries[i] = (seq, path, {**entry_metrics, **metrics})
        if self.latest is not None and self.latest[0] == path:
            self.latest = (path, {**self.latest[1], **metrics})
        self._drop_beyond_keep()

    def _drop_beyond_keep(self) -> None:
        keep = self.config.num_to_keep
        if keep is None or len(self._entries) <= keep:
            return
        latest = self.latest[0] if self.latest is not None else None
        ranked = sorted(self._entries, key=self._score, reverse=True)
        dropped = [e for e in ranked[keep:] if e[1] != latest and e[1] not in self._pending]
        for entry in dropped:
            self._entries.remove(entry)
            self._delete(entry[1])

    def kept(self) -> list[tuple[str, dict[str, Any]]]:
        """The kept checkpoints, in report order."""
        return [(p, m) for _, p, m in self._entries]

    def ranked(self) -> list[tuple[str, dict[str, Any]]]:
        """The kept checkpoints in Ray's order: by score, best last (report order when no
        ``checkpoint_score_attribute`` is set; ties in report order).

        Example:
            >>> m = CheckpointManager(CheckpointConfig(checkpoint_score_attribute="loss",
            ...                                        checkpoint_score_order="min"), delete=lambda path: None)
            >>> m.register("/c0", {"loss": 0.5}); m.register("/c1", {"loss": 0.9}); m.register("/c2", {"loss": 0.1})
            >>> [p for p, _ in m.ranked()]
            ['/c1', '/c0', '/c2']
        """
        return [(p, m) for entry in sorted(self._entries, key=self._score) for _, p, m in [entry]]

    def best(self) -> tuple[str, dict[str, Any]] | None:
        """The best kept checkpoint by score (the latest when no attribute is set)."""
        if not self._entries:
            return None
        _, path, metrics = max(self._entries, key=self._score)
        return path, metrics


__all__ = ["CheckpointManager"]
