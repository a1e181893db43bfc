"""Replica autoscaling: the config and the pure decision (Ray Serve's
``autoscaling_config``).

The default policy aims at ``target_ongoing_requests`` per replica: with ``load``
requests running in the replicas or queued in the callers' routers (averaged over
``look_back_period_s``, see :mod:`.autoscaling_metrics`), it wants
``load / target_ongoing_requests`` replicas.

A deployment may bring its own policy, as in Ray:
``AutoscalingConfig(policy=AutoscalingPolicy(policy_function=fn))``. ``fn`` gets an
:class:`AutoscalingContext` at every look at the load and returns the replica count it
wants, or ``(count, policy_state)``; the state comes back as ``ctx.policy_state`` next
time. An application may bring one policy for all of its autoscaling deployments at once
(Ray's application-level policies): :mod:`.app_autoscaling`.

Whatever the policy, Ray 2.60 settles its wish the same way (``ray.serve.autoscaling_policy``'s
``_apply_autoscaling_config``), and so does :func:`settle` here:

1. cold start: with no replica and requests waiting, ``max(ceil(upscaling_factor), target)``
   at once (the policy is not asked);
2. ``upscaling_factor`` / ``downscaling_factor`` scale the step from the current count
   (a step down that would round to nothing goes down by one);
3. from no replica, the result at once; else a wish above the target must hold for
   ``upscale_delay_s``, one below for ``downscale_delay_s`` (``downscale_to_zero_delay_s``
   from 1 to 0; a step down stops at 1 before going to 0);
4. rounded up and kept within ``[min_replicas, max_replicas]``.

Example:
    >>> cfg = AutoscalingConfig(min_replicas=1, max_replicas=4, target_ongoing_requests=2, upscale_delay_s=0)
    >>> ReplicaScaler(cfg).decide(now=0.0, current=1, load=7)
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
from enum import Enum
from typing import Any

from streamdata.serve.autoscaling_metrics import TimeStampedValue
from streamdata.serve.context import DeploymentID, ReplicaID


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
            value = dict(value)
            if "name" in value:  # the key's name in Ray's docs before ``policy_function``
                if "policy_function" in value:
                    raise ValueError(f"{what}: give 'policy_function' or its older name 'name', not both")
                value["policy_function"] = value.pop("name")
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


class AggregationFunction(str, Enum):
    """How the requests seen over ``look_back_period_s`` become one number (Ray's names)."""

    MEAN = "mean"  # time-weighted
    MAX = "max"
    MIN = "min"


@dataclass(kw_only=True)
class AutoscalingContext:
    """What a policy sees of its deployment at one look at the load (Ray's fields).

    ``total_num_requests``: the requests running in the replicas plus those queued in the
    callers' routers, and ``total_queued_requests`` those queued alone, both aggregated over
    ``look_back_period_s`` with the ``aggregation_function``. ``raw_metrics``: the custom
    metrics the running replicas' ``record_autoscaling_stats()`` returned over that window,
    metric name -> :class:`ReplicaID` -> samples (:class:`TimeStampedValue`, oldest first);
    ``aggregated_metrics``: each of those series as one number (the time-weighted mean, or
    the max or min, as ``aggregation_function`` says). A replica without samples of a
    metric has no entry under it (see :mod:`.autoscaling_stats`).
    """

    deployment_id: DeploymentID
    deployment_name: str
    app_name: str | None
    current_num_replicas: int
    target_num_replicas: int
    running_replicas: list[ReplicaID]
    total_num_requests: float
    total_queued_requests: float | None
    aggregated_metrics: dict[str, dict[ReplicaID, float]]
    raw_metrics: dict[str, dict[ReplicaID, list[TimeStampedValue]]]
    capacity_adjusted_min_replicas: int
    capacity_adjusted_max_replicas: int
    policy_state: dict[str, Any]
    last_scale_up_time: float | None
    last_scale_down_time: float | None
    current_time: float | None
    config: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalingConfig:
    """Bounds and targets of a deployment's replica count (Ray's fields and defaults, but
    ``metrics_interval_s``: how often the controller looks, 0.1 s here).

    Attributes:
        min_replicas: never fewer replicas (0 allowed: scale to zero when idle).
        max_replicas: never more replicas.
        target_ongoing_requests: requests running and queued per replica to aim at.
        initial_replicas: replicas at deploy time (default ``min_replicas``, at least 1).
        upscale_delay_s: how long a wish to scale up must hold before acting.
        downscale_delay_s: how long a wish to scale down must hold before acting.
        downscale_to_zero_delay_s: the same from 1 replica to 0 (default ``downscale_delay_s``).
        upscaling_factor, downscaling_factor: the share of a step up or down taken at once
            (default ``smoothing_factor``, or the deprecated ``upscale_smoothing_factor`` /
            ``downscale_smoothing_factor``).
        look_back_period_s: the window the requests seen are aggregated over.
        aggregation_function: ``"mean"`` (time-weighted), ``"max"`` or ``"min"`` over that window.
        metrics_interval_s: how often the controller looks at the load (and routers report
            their queued requests).
        policy: a custom policy (None: the default, :func:`replica_queue_length_policy`).

    Example:
        >>> cfg = AutoscalingConfig(smoothing_factor=0.5, downscaling_factor=0.25)
        >>> cfg.get_upscaling_factor(), cfg.get_downscaling_factor()
        (0.5, 0.25)
    """

    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 2.0
    initial_replicas: int | None = None
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    downscale_to_zero_delay_s: float | None = None
    smoothing_factor: float = 1.0
    upscale_smoothing_factor: float | None = None
    downscale_smoothing_factor: float | None = None
    upscaling_factor: float | None = None
    downscaling_factor: float | None = None
    look_back_period_s: float = 30.0
    aggregation_function: str = AggregationFunction.MEAN.value
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
        for name in ("upscale_delay_s", "downscale_delay_s", "downscale_to_zero_delay_s"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"autoscaling_config {name} must be >= 0, got {value!r}")
        for name in ("smoothing_factor", "upscale_smoothing_factor", "downscale_smoothing_factor",
                     "upscaling_factor", "downscaling_factor", "look_back_period_s", "metrics_interval_s"):
            value = getattr(self, name)
            if (value is not None or name == "smoothing_factor") and (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                raise ValueError(f"autoscaling_config {name} must be > 0, got {value!r}")
        how = getattr(self.aggregation_function, "value", self.aggregation_function)
        if str(how).lower() not in {f.value for f in AggregationFunction}:
            raise ValueError(f"autoscaling_config aggregation_function must be one of "
                             f"{[f.value for f in AggregationFunction]}, got {self.aggregation_function!r}")
        object.__setattr__(self, "aggregation_function", str(how).lower())
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

    def get_upscaling_factor(self) -> float:
        """The share of a step up taken at once (Ray's method)."""
        return self.upscaling_factor or self.upscale_smoothing_factor or self.smoothing_factor

    def get_downscaling_factor(self) -> float:
        """The share of a step down taken at once (Ray's method)."""
        return self.downscaling_factor or self.downscale_smoothing_factor or self.smoothing_factor

    def get_target_ongoing_requests(self) -> float:
        """``target_ongoing_requests`` (Ray's method)."""
        return self.target_ongoing_requests

    def bounded(self, count: float) -> int:
        """``count`` rounded up and kept within ``[min_replicas, max_replicas]``.

        Example:
            >>> AutoscalingConfig(min_replicas=1, max_replicas=3).bounded(2.2)
            3
        """
        return max(self.min_replicas, min(self.max_replicas, math.ceil(count)))


def desired_replicas(config: AutoscalingConfig, *, current: int, load: float) -> int:
    """The replica count ``config``'s target asks for ``load`` requests, within the bounds
    (what the default policy wants before the factors and delays).

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
                 last_up: float | None = None, last_down: float | None = None, queued: float | None = None,
                 aggregated_metrics: dict[str, dict[ReplicaID, float]] | None = None,
                 raw_metrics: dict[str, dict[ReplicaID, list[TimeStampedValue]]] | None = None) -> AutoscalingContext:
    """The :class:`AutoscalingContext` a policy gets for ``deployment`` at ``now`` (``running``:
    the running replicas' ids, as :class:`ReplicaID` or their ``unique_id``).

    Example:
        >>> ctx = make_context(DeploymentID("Model", "app"), AutoscalingConfig(max_replicas=3), now=1.0,
        ...                    current=1, target=1, load=4, queued=3, running=["0-a"])
        >>> ctx.deployment_name, ctx.total_num_requests, ctx.total_queued_requests, ctx.capacity_adjusted_max_replicas
        ('Model', 4, 3, 3)
        >>> ctx.running_replicas[0].unique_id, ctx.aggregated_metrics
        ('0-a', {})
    """
    return AutoscalingContext(
        deployment_id=deployment, deployment_name=deployment.name, app_name=deployment.app_name,
        current_num_replicas=current, target_num_replicas=target,
        running_replicas=[r if isinstance(r, ReplicaID) else ReplicaID(r, deployment) for r in running],
        total_num_requests=load, total_queued_requests=queued, aggregated_metrics=dict(aggregated_metrics or {}),
        raw_metrics=dict(raw_metrics or {}),
        capacity_adjusted_min_replicas=config.min_replicas, capacity_adjusted_max_replicas=config.max_replicas,
        policy_state=dict(policy_state or {}), last_scale_up_time=last_up, last_scale_down_time=last_down,
        current_time=now, config=config)


# ---------------------------------------------------------------- what Ray applies to every policy's wish
#: tolerance of the delays' elapsed-time comparison (Ray's ``_DELAY_ELAPSED_EPS_S``)
DELAY_EPS_S = 1e-6


def replica_queue_length_policy(ctx: AutoscalingContext) -> tuple[float, dict[str, Any]]:
    """The default policy (Ray's ``replica_queue_length_autoscaling_policy``): the replicas
    that hold ``total_num_requests`` at ``target_ongoing_requests`` each.

    Example:
        >>> ctx = make_context(DeploymentID("M"), AutoscalingConfig(max_replicas=9), now=0.0, current=2, target=2,
        ...                    load=7)
        >>> replica_queue_length_policy(ctx)
        (3.5, {})
    """
    cold = cold_start_replicas(ctx)
    if cold is not None:
        return cold, ctx.policy_state
    current = ctx.current_num_replicas
    if current == 0:
        return ctx.target_num_replicas, {}
    return current * (ctx.total_num_requests / (ctx.config.get_target_ongoing_requests() * current)), {}


def cold_start_replicas(ctx: AutoscalingContext) -> int | None:
    """With no replica and requests seen, the count to start at once (else None).

    Example:
        >>> ctx = make_context(DeploymentID("M"), AutoscalingConfig(min_replicas=0), now=0.0, current=0, target=0,
        ...                    load=0.5)
        >>> cold_start_replicas(ctx)
        1
    """
    if ctx.current_num_replicas == 0 and ctx.total_num_requests > 0:
        return max(math.ceil(1 * ctx.config.get_upscaling_factor()), ctx.target_num_replicas)
    return None


def apply_scaling_factors(desired: float, current: int, config: AutoscalingConfig) -> int:
    """``desired`` with only ``upscaling_factor`` / ``downscaling_factor`` of the step from
    ``current`` taken (a step down that would round to nothing goes down by one).

    Example:
        >>> cfg = AutoscalingConfig(upscaling_factor=0.5, downscaling_factor=0.1)
        >>> apply_scaling_factors(10, 2, cfg), apply_scaling_factors(1, 4, cfg), apply_scaling_factors(3, 0, cfg)
        (6, 3, 3)
    """
    if current == 0:
        return math.ceil(desired)
    delta = desired - current
    factor = config.get_upscaling_factor() if delta > 0 else config.get_downscaling_factor()
    scaled = math.ceil(current + factor * delta)
    if math.ceil(float(desired)) < current and scaled == current:
        scaled -= 1
    return scaled


class ScalingDelay:
    """The up/down delays (Ray's ``_apply_delay_logic``): a wish must hold that long,
    measured from when it started, before the target moves to it.

    Example:
        >>> d, cfg = ScalingDelay(), AutoscalingConfig(upscale_delay_s=2.0)
        >>> d.apply(3, target=1, config=cfg, now=0.0), d.apply(3, target=1, config=cfg, now=2.0)
        (1, 3)
    """

    __slots__ = ("direction", "since")

    def __init__(self) -> None:
        self.direction = 0  # +1 wanting up, -1 wanting down, 0 content
        self.since: float | None = None  # when the present wish started

    def apply(self, desired: int, *, target: int, config: AutoscalingConfig, now: float) -> int:
        """The count to have now: ``desired`` once its wish held long enough, else ``target``."""
        if desired == target:
            self.direction, self.since = 0, None
            return target
        direction = 1 if desired > target else -1
        if direction != self.direction:
            self.direction, self.since = direction, None
        if direction > 0:
            delay = config.upscale_delay_s
        elif target == 1:  # to zero (only from 1)
            delay = config.downscale_delay_s if config.downscale_to_zero_delay_s is None \
                else config.downscale_to_zero_delay_s
        else:
            delay = config.downscale_delay_s
            desired = max(1, desired)
        if self.since is None:
            self.since = now
        if now - self.since + DELAY_EPS_S >= delay:
            self.direction, self.since = 0, None
            return desired
        return target


def settle(desired: float, ctx: AutoscalingContext, delay: ScalingDelay, now: float) -> int:
    """A policy's wish as the replica count to have now (steps 2 and 3 of the module's
    list; bound it with ``config.bounded``).

    Example:
        >>> cfg = AutoscalingConfig(max_replicas=9, upscale_delay_s=0, upscaling_factor=0.5)
        >>> ctx = make_context(DeploymentID("M"), cfg, now=0.0, current=2, target=2, load=0)
        >>> settle(8, ctx, ScalingDelay(), now=0.0)
        5
    """
    scaled = apply_scaling_factors(desired, ctx.current_num_replicas, ctx.config)
    if ctx.current_num_replicas == 0 and scaled > 0:
        return scaled  # from no replica: at once
    return delay.apply(max(0, scaled), target=ctx.target_num_replicas, config=ctx.config, now=now)


def policy_count(value: Any, what: str, suffix: str = "") -> float:
    """A policy's replica count, checked: a finite number >= 0 (``what`` names the policy,
    ``suffix`` follows "decided N replicas" in the error).

    Example:
        >>> policy_count(2.5, "the policy")
        2.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise TypeError(f"{what} decided {value!r} replicas{suffix}; a decision must be a number >= 0")
    return value


class ReplicaScaler:
    """A deployment's policy (its own or the default) with what Ray applies on top, and
    its ``policy_state``; fed with the time, so it is tested without clocks or processes.

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
        custom = config.policy.function() if config.policy is not None else None
        self._policy: Callable[[AutoscalingContext], Any] = custom or replica_queue_length_policy
        self.custom = custom is not None
        self._delay = ScalingDelay()
        self._state: dict[str, Any] = {}
        self._last_up: float | None = None
        self._last_down: float | None = None

    def decide(self, *, now: float, current: int, load: float, target: int | None = None,
               running: list[str] | None = None, queued: float | None = None,
               aggregated_metrics: dict[str, dict[ReplicaID, float]] | None = None,
               raw_metrics: dict[str, dict[ReplicaID, list[TimeStampedValue]]] | None = None) -> int:
        """The replica count to have now (``target`` when nothing should change yet)."""
        target = current if target is None else target
        ctx = make_context(self.deployment, self.config, now=now, current=current, target=target, load=load,
                           running=running or [], policy_state=self._state, last_up=self._last_up,
                           last_down=self._last_down, queued=queued, aggregated_metrics=aggregated_metrics,
                           raw_metrics=raw_metrics)
        wanted = cold_start_replicas(ctx)
        if wanted is None:
            decision = self._policy(ctx)
            count, state = decision if isinstance(decision, tuple) and len(decision) == 2 else (decision, None)
            if isinstance(count, bool) or not isinstance(count, (int, float)):
                raise TypeError(f"the autoscaling policy of {self.deployment.name!r} returned {decision!r}; it must "
                                "return a replica count, or (count, policy_state)")
            count = policy_count(count, f"the autoscaling policy of {self.deployment.name!r}")
            if state is not None:
                self._state = dict(state)
            wanted = settle(count, ctx, self._delay, now)
        wanted = self.config.bounded(wanted)
        if wanted > target:
            self._last_up = now
        elif wanted < target:
            self._last_down = now
        return wanted


__all__ = ["AggregationFunction", "AutoscalingConfig", "AutoscalingContext", "AutoscalingPolicy", "DeploymentID",
           "ReplicaID", "ReplicaScaler", "ScalingDelay", "TimeStampedValue", "apply_scaling_factors",
           "cold_start_replicas", "desired_replicas", "make_context", "policy_count", "replica_queue_length_policy",
           "settle"]
