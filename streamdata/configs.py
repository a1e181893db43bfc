"""Small public configuration types of Ray Data: :class:`RandomSeedConfig`,
:class:`FileShuffleConfig`, :class:`MixStoppingCondition`, :class:`SinkMode` (``SaveMode``
lives with the sinks, :mod:`streamdata.io.save_mode`).

A base module (imports nothing of streamdata but errors).

Example:
    >>> SinkMode("append") is SinkMode.APPEND
    True
    >>> RandomSeedConfig.create_seed_config(7).seed
    7
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from streamdata.errors import PlanError


class SinkMode(str, enum.Enum):
    """Table-sink modes (Ray's ``SinkMode``)."""

    CREATE = "create"
    APPEND = "append"
    OVERWRITE = "overwrite"


class MixStoppingCondition(str, enum.Enum):
    """When mixing datasets stops: at the shortest input, or when the longest ends."""

    STOP_ON_SHORTEST = "stop_on_shortest"
    STOP_ON_LONGEST_DROP = "stop_on_longest_drop"


def _check_seed(what: str, seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise PlanError(f"{what} seed must be an int >= 0 or None, got {seed!r}")


@dataclass(frozen=True)
class RandomSeedConfig:
    """The seed of a random operation (``random_sample(seed=...)``, ``random_shuffle``).

    Args:
        seed: the seed (None: a fresh one each run, or the time with
            ``use_timestamp_as_default``).
        reseed_after_execution: draw different numbers on each execution of the same
            dataset (Ray's default True); the seed still makes one execution reproducible.
        use_timestamp_as_default: without a seed, seed from the current time.

    Example:
        >>> RandomSeedConfig(seed=3).seed
        3
    """

    seed: int | None = None
    reseed_after_execution: bool = True
    use_timestamp_as_default: bool = False

    def __post_init__(self) -> None:
        _check_seed("RandomSeedConfig", self.seed)

    @classmethod
    def create_seed_config(cls, seed: "int | RandomSeedConfig | None") -> "RandomSeedConfig":
        """A config from what a user passed as ``seed``."""
        if isinstance(seed, RandomSeedConfig):
            return seed
        return cls(seed=seed)

    def resolved_seed(self) -> int | None:
        """The seed to use now (the time when asked to and none was given)."""
        if self.seed is None and self.use_timestamp_as_default:
            return int(time.time() * 1000) % (2 ** 31)
        return self.seed


@dataclass(frozen=True)
class FileShuffleConfig:
    """Shuffle the order of the files a read visits (``read_parquet(shuffle=...)``).

    Example:
        >>> FileShuffleConfig(seed=1)
        FileShuffleConfig(seed=1, reseed_after_execution=True)
    """

    seed: int | None = None
    reseed_after_execution: bool = True

    def __post_init__(self) -> None:
        _check_seed("FileShuffleConfig", self.seed)


__all__ = ["FileShuffleConfig", "MixStoppingCondition", "RandomSeedConfig", "SinkMode"]
