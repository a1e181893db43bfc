"""Application-level autoscaling (Ray Serve's application ``autoscaling_policy``): one
policy function decides the replica counts of all the autoscaling deployments of an
application at once, for deployments that must scale together (a preprocessor and the
model it feeds, deployments that share a backend).

``serve.run(app, autoscaling_policy=fn)``; ``fn`` may also be an import path, an
``AutoscalingPolicy``, or Ray's application config form ``{"policy_function": "module:fn"}``.
``fn`` gets ``{DeploymentID: AutoscalingContext}``, one context per deployment of the
application that has an ``autoscaling_config`` (the others keep their ``num_replicas``),
and returns ``(decisions, policy_state)``:

- ``decisions``: ``{DeploymentID: count}`` (a deployment's name works as a key too); a
  deployment left out keeps its target;
- ``policy_state``: ``{DeploymentID: dict}`` or None; each deployment's dict comes back
  as its context's ``policy_state`` next time (left out, or None: an empty dict).

Each count is then settled with its deployment's ``autoscaling_config`` as Ray 2.60 does
(``ray.serve.autoscaling_policy._apply_app_level_autoscaling_config``, see
:func:`~.autoscaling.settle`): a deployment with no replica and requests waiting starts
at once, the up/down factors and delays apply, and the count is rounded up and kept
within ``[min_replicas, max_replicas]``.

It takes the place of the deployments' own policies (a deployment-level custom policy
is not called then; the controller logs a warning). The decision is
:class:`ApplicationScaler`, fed with what the controller observed and the time, so it
is tested without processes.

Example:
    >>> cfg = AutoscalingConfig(min_replicas=1, max_replicas=8, upscale_delay_s=0)
    >>> pre, model = DeploymentID("Pre", "app"), DeploymentID("Model", "app")
    >>> def policy(contexts):
    ...     wanted = contexts[pre].total_num_requests // 10
    ...     return {pre: wanted, model: 2 * wanted}, {}
    >>> scaler = ApplicationScaler(policy, "app")
    >>> scaler.decide(now=0.0, loads=[DeploymentLoad(deployment_id=pre, config=cfg, current=1, target=1, load=30),
    ...                               DeploymentLoad(deployment_id=model, config=cfg, current=1, target=1, load=0)])
    {DeploymentID(name='Pre', app_name='app'): 3, DeploymentID(name='Model', app_name='app'): 6}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve.autoscaling import (
    AutoscalingConfig,
    AutoscalingPolicy,
    DeploymentID,
    ScalingDelay,
    cold_start_replicas,
    make_context,
    policy_count,
    settle,
)


def coerce_application_policy(value: Any) -> AutoscalingPolicy | None:
    """``autoscaling_policy=`` as an :class:`AutoscalingPolicy` (None: none).

    Example:
        >>> coerce_application_policy({"policy_function": "pkg.policies:coordinated"}).policy_function
        'pkg.policies:coordinated'
        >>> coerce_application_policy(None) is None
        True
    """
    if value is None:
        return None
    if callable(value) or isinstance(value, str):
        value = AutoscalingPolicy(policy_function=value)
    elif not isinstance(value, (AutoscalingPolicy, dict)):
        raise TypeError(f"autoscaling_policy must be a function, an import path, an AutoscalingPolicy or a dict, "
                        f"got {value!r}")
    policy = AutoscalingPolicy.from_value(value, "autoscaling_policy")
    if policy.policy_function is None:
        raise ValueError("an application's autoscaling_policy needs a policy_function (a function of "
                         "{DeploymentID: AutoscalingContext})")
    return policy


def check_application_policy(app_name: str, autoscaling: Mapping[str, AutoscalingConfig | None]) -> None:
    """Raise unless the application (its deployments → their ``autoscaling_config``) has a
    deployment for an application-level policy to decide.

    Example:
        >>> check_application_policy("app", {"Driver": None})
        Traceback (most recent call last):
        ...
        ValueError: serve.run(autoscaling_policy=...): no deployment of application 'app' has an autoscaling_config, ...
    """
    if not any(config is not None for config in autoscaling.values()):
        raise ValueError(f"serve.run(autoscaling_policy=...): no deployment of application {app_name!r} has an "
                         f"autoscaling_config, and the policy decides only for those; its deployments: "
                         f"{sorted(autoscaling)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentLoad:
    """One autoscaling deployment as the controller saw it at one look at the load."""

    deployment_id: DeploymentID
    config: AutoscalingConfig
    current: int  # replicas not stopping
    target: int  # the replica count aimed at now
    load: float  # requests running and queued (aggregated over the look-back window)
    running: tuple[str, ...] = ()  # the running replicas' ids
    queued: float | None = None  # requests queued in the callers' routers (the same way)
    aggregated_metrics: dict = field(default_factory=dict)  # custom metrics: name -> ReplicaID -> number
    raw_metrics: dict = field(default_factory=dict)  # name -> ReplicaID -> [TimeStampedValue]


class ApplicationScaler:
    """The application's policy over its deployments' loads, with the per-deployment
    ``policy_state`` it keeps, each deployment's delay under way and the times each one
    last went up or down.

    Example:
        >>> d = DeploymentID("Model", "app")
        >>> cfg = AutoscalingConfig(max_replicas=9, upscale_delay_s=0)
        >>> scaler = ApplicationScaler(lambda ctxs: ({"Model": 2.5}, {d: {"seen": 1}}), "app")
        >>> scaler.decide(now=1.0, loads=[DeploymentLoad(deployment_id=d, config=cfg, current=1, target=1, load=0)])
        {DeploymentID(name='Model', app_name='app'): 3}
        >>> scaler.state
        {DeploymentID(name='Model', app_name='app'): {'seen': 1}}
    """

    def __init__(self, policy: AutoscalingPolicy | Callable[..., Any] | str | dict, app_name: str) -> None:
        checked = coerce_application_policy(policy)
        assert checked is not None
        self.policy = checked
        self.app_name = app_name
        fn = checked.function()
        if not callable(fn):
            raise TypeError(f"the autoscaling_policy of application {app_name!r} is not callable: {fn!r}")
        self._fn = fn
        self.state: dict[DeploymentID, dict[str, Any]] = {}
        self._delays: dict[DeploymentID, ScalingDelay] = {}
        self._last_up: dict[DeploymentID, float] = {}
        self._last_down: dict[DeploymentID, float] = {}

    def decide(self, *, now: float, loads: Sequence[DeploymentLoad]) -> dict[DeploymentID, int]:
        """Every deployment's replica count to have now (its target when the policy left it
        out, or while a delay runs)."""
        by_id = {load.deployment_id: load for load in loads}
        if not by_id:
            return {}
        contexts = {i: make_context(i, d.config, now=now, current=d.current, target=d.target, load=d.load,
                                    running=d.running, policy_state=self.state.get(i), queued=d.queued,
                                    last_up=self._last_up.get(i), last_down=self._last_down.get(i),
                                    aggregated_metrics=d.aggregated_metrics, raw_metrics=d.raw_metrics)
                    for i, d in by_id.items()}
        result = self._fn(contexts)
        if isinstance(result, tuple) and len(result) == 2:
            decisions, state = result
        elif isinstance(result, dict):
            decisions, state = result, None
        else:
            raise TypeError(f"the autoscaling policy of application {self.app_name!r} returned {result!r}; it must "
                            "return (decisions, policy_state): {DeploymentID: count}, {DeploymentID: dict} or None")
        wanted = {self._deployment(key, by_id, "a decision"): self._count(key, value)
                  for key, value in self._mapping(decisions, "decisions").items()}
        self.state = self._checked_state(state, by_id)
        out: dict[DeploymentID, int] = {}
        for i, d in by_id.items():
            count = d.target
            if i in wanted:
                ctx = contexts[i]
                cold = cold_start_replicas(ctx)
                settled = cold if cold is not None else settle(wanted[i], ctx, self._delays.setdefault(
                    i, ScalingDelay()), now)
                count = d.config.bounded(settled)
            if count > d.target:
                self._last_up[i] = now
            elif count < d.target:
                self._last_down[i] = now
            out[i] = count
        return out

    # ---- checking what the policy returned
    def _mapping(self, value: Any, what: str) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise TypeError(f"the autoscaling policy of application {self.app_name!r} returned {what} {value!r}; "
                            "it must be a dict keyed by DeploymentID")
        return value

    def _deployment(self, key: Any, by_id: Mapping[DeploymentID, DeploymentLoad], what: str) -> DeploymentID:
        name = key if isinstance(key, str) else getattr(key, "name", None)
        app = self.app_name if isinstance(key, str) else getattr(key, "app_name", self.app_name)
        for deployment_id in by_id:
            if deployment_id.name == name and app == self.app_name:
                return deployment_id
        raise ValueError(f"the autoscaling policy of application {self.app_name!r} returned {what} for {key!r}, which "
                         f"is not one of its autoscaling deployments {sorted(i.name for i in by_id)} (deployments "
                         "without an autoscaling_config keep their num_replicas)")

    def _count(self, key: Any, value: Any) -> float:
        return policy_count(value, f"the autoscaling policy of application {self.app_name!r}", f" for {key!r}")

    def _checked_state(self, state: Any, by_id: Mapping[DeploymentID, DeploymentLoad]) -> dict[DeploymentID, dict]:
        if state is None:
            return {}
        out: dict[DeploymentID, dict[str, Any]] = {}
        for key, value in self._mapping(state, "policy_state").items():
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"the autoscaling policy of application {self.app_name!r} returned the policy_state "
                                f"{value!r} for {key!r}; each deployment's state must be a dict")
            out[self._deployment(key, by_id, "a policy_state")] = dict(value or {})
        return out


__all__ = ["ApplicationScaler", "DeploymentLoad", "check_application_policy", "coerce_application_policy"]
