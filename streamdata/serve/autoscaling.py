"""Replica autoscaling: the config and the pure policy (Ray Serve's
``autoscaling_config``).

The policy aims at ``target_ongoing_requests`` per replica: with ``load``
requests in flight or queued, it wants ``ceil(load / target)`` replicas,
within ``[min_replicas, max_replicas]``. A wish to scale up must hold for
``upscale_delay_s`` and a wish to scale down for ``downscale_delay_s`` before
it is acted on, so short bursts do not make replicas come and go.

A deployment may bring its own policy, as in Ray:
``AutoscalingConfig(policy=AutoscalingPolicy(policy_function=fn))``. ``fn`` gets an
:class:`AutoscalingContext` at every look at the load and returns the replica count it
wants, or ``(count, policy_state)``; the state comes back as ``ctx.policy_state`` next
time, and the count is kept within ``[min_replicas, max_replicas]``. It takes the place
of the delays: a custom policy smooths as it likes. An application may bring one policy
for all of its autoscaling deployments at once (Ray's application-level policies):
:mod:`.app_autoscaling`.

Example:
    >>> cfg = AutoscalingConfig(min_replicas=1, max_replicas=4, target_ongoing_requests=2)
    >>> desired_replicas(cfg, current=1, load=7)
    4
    >>> desired_replicas(cfg, current=3, load=0)
    1
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class DeploymentID:
    """A deployment's name and its application's (Ray's ``DeploymentID``)."""

    name: str
    app_name: str = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalingPolicy:
    """A custom autoscaling policy (Ray's ``AutoscalingPolicy``).

    Args:
        policy_function: a function of an :class:`AutoscalingContext`, or its import path
            (``"pkg.module:function"``), or a class (instantiated with ``policy_kwargs``,
            then called with the context).
        policy_kwargs: the class's constructor arguments.

    Example:
        >>> AutoscalingPolicy(policy_function="math:floor").function()(2.5)
        2
    """

    policy_function: Any = None
    policy_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fn = self.policy_function
        if fn is not None and not callable(fn) and not (isinstance(fn, str) and fn.strip()):
            raise TypeError(f"AutoscalingPolicy(policy_function=...) must be a callable or an import path, got {fn!r}")
        if not isinstance(self.policy_kwargs, dict):
            raise TypeError(f"AutoscalingPolicy(policy_kwargs=...) must be a dict, got {self.policy_kwargs!r}")

    @classmethod
    def from_value(cls, value: Any, what: str = "autoscaling_config policy") -> AutoscalingPolicy:
        """An AutoscalingPolicy, or a dict of its fields (unknown keys named), as one."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"policy_function", "policy_kwargs"})
            if unknown:
                raise ValueError(f"unknown {what} key(s) {unknown}; valid: ['policy_function', 'policy_kwargs']")
            return cls(**value)
        raise TypeError(f"{what} must be an AutoscalingPolicy or a dict, got {value!r}")

    def function(self) -> Callable[[Any], Any] | None:
        """The policy as a callable of the context (None: the default policy)."""
        fn = self.policy_function
        if isinstance(fn, str):
            module, _, name = fn.partition(":") if ":" in fn else fn.rpartition(".")
            fn = getattr(importlib.import_module(module), name)
        if inspect.isclass(fn):
            fn = fn(**self.policy_kwargs)
        return fn


@dataclass(kw_only=True)
class AutoscalingContext:
    """What a custom policy sees of its deployment at one look at the load (Ray's fields).

    ``total_num_requests`` is the requests in flight and queued now; streamdata records
    no custom metrics, so ``aggregated_metrics`` and ``raw_metrics`` are empty.
    """

    deployment_id: DeploymentID
    deployment_name: str
    app_name: str | None
    current_num_replicas: int
    target_num_replicas: int
    running_replicas: list[str]
    total_num_requests: float
    total_queued_requests: float | None
    aggregated_metrics: dict[str, dict[str, float]]
    raw_metrics: dict[str, dict[str, Any]]
    capacity_adjusted_min_replicas: int
    capacity_adjusted_max_replicas: int
    policy_state: dict[str, Any]
    last_scale_up_time: float | None
    last_scale_down_time: float | None
    current_time: float | None
    config: Any


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
    policy: AutoscalingPolicy | None = None

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
        if self.policy is not None:
            object.__setattr__(self, "policy", AutoscalingPolicy.from_value(self.policy))

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


def make_context(deployment: DeploymentID, config: AutoscalingConfig, *, now: float, current: int, target: int,
                 load: float, running: list[str] | tuple[str, ...] = (), policy_state: dict[str, Any] | None = None,
                 last_up: float | None = None, last_down: float | None = None) -> AutoscalingContext:
    """The :class:`AutoscalingContext` a custom policy gets for ``deployment`` at ``now``.

    Example:
        >>> ctx = make_context(DeploymentID("Model", "app"), AutoscalingConfig(max_replicas=3), now=1.0,
        ...                    current=1, target=1, load=4)
        >>> ctx.deployment_name, ctx.total_num_requests, ctx.capacity_adjusted_max_replicas
        ('Model', 4, 3)
    """
    return AutoscalingContext(
        deployment_id=deployment, deployment_name=deployment.name, app_name=deployment.app_name,
        current_num_replicas=current, target_num_replicas=target, running_replicas=list(running),
        total_num_requests=load, total_queued_requests=None, aggregated_metrics={}, raw_metrics={},
        capacity_adjusted_min_replicas=config.min_replicas, capacity_adjusted_max_replicas=config.max_replicas,
        policy_state=dict(policy_state or {}), last_scale_up_time=last_up, last_scale_down_time=last_down,
        current_time=now, config=config)


class ReplicaScaler:
    """:func:`desired_replicas` with the up/down delays, or the deployment's own policy;
    fed with the time, so it is tested without clocks or processes.

    Example:
        >>> cfg = AutoscalingConfig(max_replicas=4, target_ongoing_requests=1, upscale_delay_s=1.0)
        >>> p = ReplicaScaler(cfg)
        >>> p.decide(now=0.0, current=1, load=3)   # wants 3, has to hold for 1 s
        1
        >>> p.decide(now=1.5, current=1, load=3)
        3
    """

    def __init__(self, config: AutoscalingConfig, deployment: DeploymentID | None = None) -> None:
        self.config = config
        self.deployment = deployment or DeploymentID("")
        self._direction = 0  # +1 wanting up, -1 wanting down, 0 content
        self._since = 0.0
        self._custom = config.policy.function() if config.policy is not None else None
        self._state: dict[str, Any] = {}
        self._last_up: float | None = None
        self._last_down: float | None = None

    def decide(self, *, now: float, current: int, load: float, target: int | None = None,
               running: list[str] | None = None) -> int:
        """The replica count to have now (``current`` when nothing should change yet)."""
        if self._custom is not None:
            return self._decide_custom(now, current, load, current if target is None else target, running or [])
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

    def _decide_custom(self, now: float, current: int, load: float, target: int, running: list[str]) -> int:
        cfg = self.config
        ctx = make_context(self.deployment, cfg, now=now, current=current, target=target, load=load, running=running,
                           policy_state=self._state, last_up=self._last_up, last_down=self._last_down)
        assert self._custom is not None
        decision = self._custom(ctx)
        wanted, state = decision if isinstance(decision, tuple) else (decision, None)
        if isinstance(wanted, bool) or not isinstance(wanted, int):
            raise TypeError(f"the autoscaling policy of {self.deployment.name!r} returned {decision!r}; it must "
                            "return a replica count, or (count, policy_state)")
        if state is not None:
            self._state = dict(state)
        wanted = max(cfg.min_replicas, min(cfg.max_replicas, wanted))
        if wanted > current:
            self._last_up = now
        elif wanted < current:
            self._last_down = now
        return wanted


__all__ = ["AutoscalingConfig", "AutoscalingContext", "AutoscalingPolicy", "DeploymentID", "ReplicaScaler",
           "desired_replicas", "make_context"]
