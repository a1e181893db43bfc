"""Replica autoscaling: the config and the pure policy (Ray Serve's
``autoscaling_config``).

The policy aims at ``target_ongoing_requests`` per replica: with ``load``
requests in flight or queued, it wants ``ceil(load / target)`` replicas,
within ``[min_replicas, max_replicas]``. A wish to scale up must hold for
``upscale_delay_s`` and a wish to scale down for ``downscale_delay_s`` before
it is acted on, so short bursts do not make replicas come and go.

Example:
    >>> cfg = AutoscalingConfig(min_replicas=1, max_replicas=4, target_ongoing_requests=2)
    >>> desired_replicas(cfg, current=1, load=7)
    4
    >>> desired_replicas(cfg, current=3, load=0)
    1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalingConfig:
    """Bounds and targets of a deployment's replica count.

    Attributes:
        min_replicas: never fewer replicas (0 allowed: scale to zero when idle).
        max_replicas: never more replicas.
        target_ongoing_requests: requests in flight per replica to aim at.
        initial_replicas: replicas at deploy time (default ``min_replicas``, at least 1).
        upscale_delay_s: how long a wish to scale up must hold before acting.
        downscale_delay_s: how long a wish to scale down must hold before acting.
        metrics_interval_s: how often the controller looks at the load.
    """

    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 2.0
    initial_replicas: int | None = None
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    metrics_interval_s: float = 0.1

    def __post_init__(self) -> None:
        for name in ("min_replicas", "max_replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"autoscaling_config {name} must be an int >= 0, got {value!r}")
        if self.max_replicas < max(1, self.min_replicas):
            raise ValueError(f"autoscaling_config max_replicas ({self.max_replicas}) must be >= 1 and >= "
                             f"min_replicas ({self.min_replicas})")
        if not isinstance(self.target_ongoing_requests, (int, float)) or self.target_ongoing_requests <= 0:
            raise ValueError(f"autoscaling_config target_ongoing_requests must be > 0, "
                             f"got {self.target_ongoing_requests!r}")
        if self.initial_replicas is not None and not self.min_replicas <= self.initial_replicas <= self.max_replicas:
            raise ValueError(f"autoscaling_config initial_replicas ({self.initial_replicas}) must be between "
                             f"min_replicas and max_replicas")
        for name in ("upscale_delay_s", "downscale_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"autoscaling_config {name} must be >= 0")
        if self.metrics_interval_s <= 0:
            raise ValueError("autoscaling_config metrics_interval_s must be > 0")

    @classmethod
    def from_value(cls, value: AutoscalingConfig | dict[str, Any]) -> AutoscalingConfig:
        """A config from a dict (unknown keys are an error) or a config.

        Example:
            >>> AutoscalingConfig.from_value({"max_replicas": 3}).max_replicas
            3
        """
        if isinstance(value, AutoscalingConfig):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"autoscaling_config must be a dict or AutoscalingConfig, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        # Ray's older name for the target
        value = dict(value)
        if "target_num_ongoing_requests_per_replica" in value:
            value.setdefault("target_ongoing_requests", value.pop("target_num_ongoing_requests_per_replica"))
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown autoscaling_config key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**value)

    def start_replicas(self) -> int:
        """How many replicas to start with."""
        if self.initial_replicas is not None:
            return self.initial_replicas
        return max(1, self.min_replicas)


def desired_replicas(config: AutoscalingConfig, *, current: int, load: float) -> int:
    """The replica count ``config`` wants for ``load`` requests (in flight and queued).

    Example:
        >>> cfg = AutoscalingConfig(min_replicas=0, max_replicas=3, target_ongoing_requests=1)
        >>> desired_replicas(cfg, current=0, load=0), desired_replicas(cfg, current=0, load=1)
        (0, 1)
    """
    if load < 0:
        raise ValueError(f"load must be >= 0, got {load}")
    wanted = math.ceil(load / config.target_ongoing_requests - 1e-9) if load > 0 else 0
    return max(config.min_replicas, min(config.max_replicas, wanted))


class AutoscalingPolicy:
    """:func:`desired_replicas` with the up/down delays; fed with the time, so it is
    tested without clocks or processes.

    Example:
        >>> cfg = AutoscalingConfig(max_replicas=4, target_ongoing_requests=1, upscale_delay_s=1.0)
        >>> p = AutoscalingPolicy(cfg)
        >>> p.decide(now=0.0, current=1, load=3)   # wants 3, has to hold for 1 s
        1
        >>> p.decide(now=1.5, current=1, load=3)
        3
    """

    def __init__(self, config: AutoscalingConfig) -> None:
        self.config = config
        self._direction = 0  # +1 wanting up, -1 wanting down, 0 content
        self._since = 0.0

    def decide(self, *, now: float, current: int, load: float) -> int:
        """The replica count to have now (``current`` when nothing should change yet)."""
        desired = desired_replicas(self.config, current=current, load=load)
        direction = (desired > current) - (desired < current)
        if direction == 0:
            self._direction = 0
            return current
        if direction != self._direction:
            self._direction, self._since = direction, now
        delay = self.config.upscale_delay_s if direction > 0 else self.config.downscale_delay_s
        if current == 0 and direction > 0:
            delay = 0.0  # requests wait for a replica: start one at once
        if now - self._since >= delay:
            self._direction = 0
            return desired
        return current


__all__ = ["AutoscalingConfig", "AutoscalingPolicy", "desired_replicas"]
