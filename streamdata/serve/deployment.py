"""``@serve.deployment``: a class (or function) served by replica actors, and
``Deployment.bind(*args)`` → an :class:`Application` that ``serve.run`` deploys.
Ray Serve's parameter names and defaults: 1 replica, ``max_ongoing_requests=5``,
``max_queued_requests=-1`` (no limit), one CPU per replica,
``health_check_period_s=10``, ``health_check_timeout_s=30``,
``graceful_shutdown_timeout_s=20``.

Example:
    >>> from streamdata import serve
    >>> @serve.deployment(num_replicas=2, max_ongoing_requests=8, ray_actor_options={"num_cpus": 0.5})
    ... class Model:
    ...     def __init__(self, scale):
    ...         self.scale = scale
    ...     def __call__(self, x):
    ...         return x * self.scale
    >>> app = Model.bind(3)
    >>> app.deployment.name, app.deployment.num_replicas, app.args
    ('Model', 2, (3,))
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from streamdata.serve.autoscaling import AutoscalingConfig
from streamdata.serve.config import BackpressureConfig
from streamdata.serve.deployment_actors import DeploymentActorConfig, coerce_deployment_actors
from streamdata.serve.gang import GangSchedulingConfig, check_gang_options, round_up_to_gang
from streamdata.serve.logs import coerce_logging_config
from streamdata.serve.request_router_config import RequestRouterConfig

DEFAULT_MAX_ONGOING_REQUESTS = 5
#: Ray's default ``max_constructor_retry_count``
DEFAULT_CONSTRUCTOR_RETRY_COUNT = 20
_ACTOR_OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "runtime_env", "accelerator_type")
#: Ray Serve options streamdata does not have (no partial rolling updates)
_UNSUPPORTED = ("rolling_update_percentage", "max_surge_percent")


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


def _number(name: str, value: Any, minimum: float, allow: tuple = ()) -> None:
    if value in allow:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentConfig:
    """How a deployment runs (what ``@serve.deployment``'s arguments say)."""

    name: str
    version: str | None = None
    num_replicas: int = 1
    max_ongoing_requests: int = DEFAULT_MAX_ONGOING_REQUESTS
    max_queued_requests: int = -1
    autoscaling_config: AutoscalingConfig | None = None
    ray_actor_options: dict[str, Any] = dataclasses.field(default_factory=lambda: {"num_cpus": 1.0})
    user_config: Any = None
    has_user_config: bool = False
    health_check_period_s: float = 10.0
    health_check_timeout_s: float = 30.0
    graceful_shutdown_wait_loop_s: float = 2.0
    graceful_shutdown_timeout_s: float = 20.0
    max_replicas_per_node: int | None = None
    max_constructor_retry_count: int = DEFAULT_CONSTRUCTOR_RETRY_COUNT
    logging_config: dict[str, Any] | None = None
    placement_group_bundles: list[dict[str, float]] | None = None
    placement_group_strategy: str | None = None
    placement_group_bundle_label_selector: list[dict[str, str]] | None = None
    backpressure_config: BackpressureConfig | None = None
    deployment_actors: tuple[DeploymentActorConfig, ...] = ()
    gang_scheduling_config: GangSchedulingConfig | None = None
    request_router_config: RequestRouterConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "#" in self.name:
            raise ValueError(f"a deployment name must be a non-empty string without '#', got {self.name!r}")
        n = self.num_replicas
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"num_replicas must be an int >= 0 or 'auto', got {n!r}")
        m = self.max_ongoing_requests
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"max_ongoing_requests must be an int >= 1, got {m!r}")
        q = self.max_queued_requests
        if isinstance(q, bool) or not isinstance(q, int) or q < -1:
            raise ValueError(f"max_queued_requests must be an int >= 0, or -1 for no limit, got {q!r}")
        if not isinstance(self.ray_actor_options, dict):
            raise TypeError(f"ray_actor_options must be a dict, got {type(self.ray_actor_options).__name__}")
        unknown = sorted(set(self.ray_actor_options) - set(_ACTOR_OPTION_KEYS))
        if unknown:
            raise ValueError(f"unknown ray_actor_options key(s) {unknown}; valid: {list(_ACTOR_OPTION_KEYS)}")
        _number("health_check_period_s", self.health_check_period_s, 1e-3)
        _number("health_check_timeout_s", self.health_check_timeout_s, 1e-3)
        _number("graceful_shutdown_wait_loop_s", self.graceful_shutdown_wait_loop_s, 0)
        _number("graceful_shutdown_timeout_s", self.graceful_shutdown_timeout_s, 0)
        retries = self.max_constructor_retry_count
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
            raise ValueError(f"max_constructor_retry_count must be an int >= 1, got {retries!r}")
        object.__setattr__(self, "logging_config",
                           coerce_logging_config(self.logging_config, "serve.deployment(logging_config)"))
        _check_placement(self)
        if self.backpressure_config is not None:
            object.__setattr__(self, "backpressure_config", BackpressureConfig.from_value(self.backpressure_config))
        object.__setattr__(self, "deployment_actors", coerce_deployment_actors(self.deployment_actors, self.name))
        object.__setattr__(self, "gang_scheduling_config", GangSchedulingConfig.from_value(self.gang_scheduling_config))
        check_gang_options(self)
        if self.request_router_config is not None:
            object.__setattr__(self, "request_router_config",
                               RequestRouterConfig.from_value(self.request_router_config))
        per_node = self.max_replicas_per_node
        if per_node is not None:
            if isinstance(per_node, bool) or not isinstance(per_node, int) or per_node < 1:
                raise ValueError(f"max_replicas_per_node must be an int >= 1, got {per_node!r}")
            most = self.autoscaling_config.max_replicas if self.autoscaling_config is not None else n
            if most > per_node:
                raise ValueError(f"deployment {self.name!r}: up to {most} replicas with max_replicas_per_node="
                                 f"{per_node} need more than one node; the local runtime is one node")

    def placement_strategy(self) -> str:
        return self.placement_group_strategy or "PACK"

    def initial_replicas(self) -> int:
        if self.autoscaling_config is not None:
            return self.aligned(self.autoscaling_config.start_replicas())
        return self.num_replicas

    def aligned(self, num_replicas: int) -> int:
        """A replica count in whole gangs (rounded up) when the deployment has gangs."""
        gang = self.gang_scheduling_config
        return num_replicas if gang is None else round_up_to_gang(num_replicas, gang.gang_size)


def _check_placement(config: DeploymentConfig) -> None:
    """Ray's rules for a replica's placement group: bundles and strategy as
    ``placement_group()`` takes them; the replica runs in the first bundle, so its
    ``ray_actor_options`` resources must fit there."""
    from streamdata.core.validate import validate_bundles

    bundles = config.placement_group_bundles
    for name in ("placement_group_strategy", "placement_group_bundle_label_selector"):
        if getattr(config, name) is not None and bundles is None:
            raise ValueError(f"deployment {config.name!r}: if `{name}` is provided, `placement_group_bundles` "
                             "must also be provided")
    if bundles is None:
        return
    bundles = validate_bundles(bundles, config.placement_strategy())
    object.__setattr__(config, "placement_group_bundles", bundles)
    selector = config.placement_group_bundle_label_selector
    if selector is not None and isinstance(selector, list) and len(selector) == 1 and len(bundles) > 1:
        object.__setattr__(config, "placement_group_bundle_label_selector", [dict(selector[0]) for _ in bundles])
    first, options = bundles[0], config.ray_actor_options
    wanted = {"CPU": options.get("num_cpus") or 0, "GPU": options.get("num_gpus") or 0,
              "memory": options.get("memory") or 0, **(options.get("resources") or {})}
    for resource, amount in wanted.items():
        if amount and first.get(resource, 0) < amount:
            raise ValueError(f"deployment {config.name!r}: with placement_group_bundles the replica runs in the "
                             f"first bundle, so its ray_actor_options must fit in it: it asks {resource}={amount}, "
                             f"the first bundle {first} has {first.get(resource, 0)}")


def _build_config(values: dict[str, Any]) -> DeploymentConfig:
    values = dict(values)
    num_replicas = values.pop("num_replicas", None)
    autoscaling = values.pop("autoscaling_config", None)
    if num_replicas == "auto":
        if autoscaling is not None:
            raise ValueError("num_replicas='auto' and an autoscaling_config cannot be combined")
        autoscaling = AutoscalingConfig(min_replicas=1, max_replicas=100, target_ongoing_requests=2)
    elif autoscaling is not None:
        if num_replicas is not None:
            raise ValueError("num_replicas and autoscaling_config cannot both be set (set "
                             "autoscaling_config's initial_replicas instead)")
        autoscaling = AutoscalingConfig.from_value(autoscaling)
    if autoscaling is not None:
        num_replicas = autoscaling.start_replicas()
    options = dict(values.pop("ray_actor_options", None) or {})
    options.setdefault("num_cpus", 1.0)
    if "user_config" in values:
        values["has_user_config"] = values["user_config"] is not None
    return DeploymentConfig(num_replicas=1 if num_replicas is None else num_replicas,
                            autoscaling_config=autoscaling, ray_actor_options=options, **values)


class Deployment:
    """A class or function to serve with replicas (``@serve.deployment`` makes one)."""

    def __init__(self, target: Callable, settings: dict[str, Any], init_args: tuple = (),
                 init_kwargs: dict[str, Any] | None = None) -> None:
        self._target = target
        self._settings = dict(settings)
        self.config = _build_config(settings)
        self._init_args = tuple(init_args)
        self._init_kwargs = dict(init_kwargs or {})

    @property
    def init_args(self) -> tuple:
        """The constructor's positional arguments (``bind(...)`` sets them; ``()`` before)."""
        return self._init_args

    @property
    def init_kwargs(self) -> dict[str, Any]:
        """The constructor's keyword arguments (``bind(...)`` sets them; ``{}`` before)."""
        return dict(self._init_kwargs)

    @property
    def logging_config(self) -> dict[str, Any] | None:
        """The deployment's logging config as a dict (None: the application's, or the default)."""
        return None if self.config.logging_config is None else dict(self.config.logging_config)

    def set_logging_config(self, logging_config: Any) -> None:
        """Replace the deployment's logging config (a LoggingConfig or a dict of its fields)."""
        checked = coerce_logging_config(logging_config, "Deployment.set_logging_config(logging_config)")
        self._settings["logging_config"] = checked
        self.config = dataclasses.replace(self.config, logging_config=checked)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def num_replicas(self) -> int:
        return self.config.num_replicas

    @property
    def user_config(self) -> Any:
        return self.config.user_config

    @property
    def max_ongoing_requests(self) -> int:
        return self.config.max_ongoing_requests

    @property
    def ray_actor_options(self) -> dict[str, Any]:
        return dict(self.config.ray_actor_options)

    @property
    def version(self) -> str | None:
        return self.config.version

    @property
    def max_queued_requests(self) -> int:
        return self.config.max_queued_requests

    @property
    def backpressure_config(self) -> BackpressureConfig | None:
        return self.config.backpressure_config

    @property
    def func_or_class(self) -> Callable:
        return self._target

    @property
    def target(self) -> Callable:
        return self._target

    def options(self, func_or_class: Callable | None = None, name: Any = DEFAULT, version: Any = DEFAULT,
                num_replicas: Any = DEFAULT, ray_actor_options: Any = DEFAULT, max_replicas_per_node: Any = DEFAULT,
                user_config: Any = DEFAULT, max_ongoing_requests: Any = DEFAULT, max_queued_requests: Any = DEFAULT,
                autoscaling_config: Any = DEFAULT, graceful_shutdown_wait_loop_s: Any = DEFAULT,
                graceful_shutdown_timeout_s: Any = DEFAULT, health_check_period_s: Any = DEFAULT,
                health_check_timeout_s: Any = DEFAULT, logging_config: Any = DEFAULT,
                max_constructor_retry_count: Any = DEFAULT,
                placement_group_bundles: Any = DEFAULT, placement_group_strategy: Any = DEFAULT,
                placement_group_bundle_label_selector: Any = DEFAULT, backpressure_config: Any = DEFAULT,
                deployment_actors: Any = DEFAULT, gang_scheduling_config: Any = DEFAULT,
                request_router_config: Any = DEFAULT, **unsupported: Any) -> Deployment:
        """A copy with some ``@serve.deployment`` arguments changed (``func_or_class``: serve
        another class or function with the same settings).

        Example:
            >>> @deployment(ray_actor_options={"num_cpus": 0})
            ... def f(x):
            ...     return x
            >>> f.options(num_replicas=3, name="g").config.num_replicas
            3
        """
        unknown = sorted(set(unsupported) - set(_UNSUPPORTED))
        if unknown:
            raise TypeError(f"Deployment.options() got unexpected argument(s) {unknown}")
        changes = _checked({**unsupported, "name": name, "version": version, "num_replicas": num_replicas,
                            "ray_actor_options": ray_actor_options, "max_replicas_per_node": max_replicas_per_node,
                            "user_config": user_config, "max_ongoing_requests": max_ongoing_requests,
                            "max_queued_requests": max_queued_requests, "autoscaling_config": autoscaling_config,
                            "graceful_shutdown_wait_loop_s": graceful_shutdown_wait_loop_s,
                            "graceful_shutdown_timeout_s": graceful_shutdown_timeout_s,
                            "health_check_period_s": health_check_period_s,
                            "health_check_timeout_s": health_check_timeout_s, "logging_config": logging_config,
                            "max_constructor_retry_count": max_constructor_retry_count,
                            "placement_group_bundles": placement_group_bundles,
                            "placement_group_strategy": placement_group_strategy,
                            "placement_group_bundle_label_selector": placement_group_bundle_label_selector,
                            "backpressure_config": backpressure_config, "deployment_actors": deployment_actors,
                            "gang_scheduling_config": gang_scheduling_config,
                            "request_router_config": request_router_config})
        if func_or_class is not None and not callable(func_or_class):
            raise TypeError(f"Deployment.options(func_or_class=...) must be a class or function, got "
                            f"{type(func_or_class).__name__}")
        settings = {**self._settings, **changes}
        if "autoscaling_config" in changes and "num_replicas" not in changes:
            settings.pop("num_replicas", None)
        if changes.get("num_replicas") not in (None, "auto", DEFAULT) and "autoscaling_config" not in changes:
            settings.pop("autoscaling_config", None)
        copy = deployment(func_or_class if func_or_class is not None else self._target, **settings)
        copy._init_args, copy._init_kwargs = self._init_args, dict(self._init_kwargs)
        return copy

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        """An application of this deployment built with ``args``/``kwargs`` (which may
        hold other applications: their handles are passed in their place)."""
        if not inspect.isclass(self._target) and (args or kwargs):
            raise TypeError(f"function deployment {self.name!r} takes no constructor arguments in bind()")
        bound = Deployment(self._target, self._settings, args, kwargs)
        return Application(deployment=bound, args=args, kwargs=dict(kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"deployment {self.name!r} cannot be called directly; use "
                        f"serve.run({self.name}.bind(...)) and call the handle's .remote()")

    def __repr__(self) -> str:
        return f"Deployment(name={self.name!r}, num_replicas={self.config.num_replicas})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """A deployment bound to its constructor arguments (``Deployment.bind``)."""

    deployment: Deployment
    args: tuple = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if v is not DEFAULT}
    for key in _UNSUPPORTED:
        if key in out:
            raise NotImplementedError(f"serve.deployment({key}=...) is not supported by streamdata")
    return out


def deployment(_func_or_class: Callable | None = None, *, name: Any = DEFAULT, version: Any = DEFAULT,
               num_replicas: Any = DEFAULT, ray_actor_options: Any = DEFAULT, max_replicas_per_node: Any = DEFAULT,
               user_config: Any = DEFAULT,
               max_ongoing_requests: Any = DEFAULT, max_queued_requests: Any = DEFAULT,
               autoscaling_config: Any = DEFAULT, graceful_shutdown_wait_loop_s: Any = DEFAULT,
               graceful_shutdown_timeout_s: Any = DEFAULT, health_check_period_s: Any = DEFAULT,
               health_check_timeout_s: Any = DEFAULT, logging_config: Any = DEFAULT,
               max_constructor_retry_count: Any = DEFAULT,
               placement_group_bundles: Any = DEFAULT, placement_group_strategy: Any = DEFAULT,
               placement_group_bundle_label_selector: Any = DEFAULT, backpressure_config: Any = DEFAULT,
               deployment_actors: Any = DEFAULT, gang_scheduling_config: Any = DEFAULT,
               request_router_config: Any = DEFAULT, **unsupported: Any) -> Any:
    """Make a class (or function) a deployment (``@deployment`` or ``@deployment(...)``).

    Args:
        name: the deployment's name (default: the class or function name).
        version: a version string (informational).
        num_replicas: how many replicas (default 1), or ``"auto"`` to autoscale.
        ray_actor_options: each replica's resources (``{"num_cpus": 1}`` by default).
        max_replicas_per_node: the most replicas one node runs; the local runtime is one
            node, so the replica count (or autoscaling maximum) must not exceed it.
        user_config: passed to the replicas' ``reconfigure(config)`` at start and on change.
        max_ongoing_requests: requests one replica handles at once (default 5).
        max_queued_requests: requests a caller queues when every replica is full (-1: no limit);
            past it, requests are refused (HTTP 503, ``BackPressureError``).
        backpressure_config: the HTTP answer to such a refusal (a ``BackpressureConfig``:
            503 or 429, and a ``Retry-After`` header).
        autoscaling_config: ``min_replicas``, ``max_replicas``, ``target_ongoing_requests``, ...
        graceful_shutdown_wait_loop_s, graceful_shutdown_timeout_s: how long a replica being
            stopped may finish its requests.
        health_check_period_s, health_check_timeout_s: how often the controller calls the
            replicas' ``check_health`` and how long it waits.
        logging_config: the replicas' logging (a ``LoggingConfig`` or a dict of its fields:
            level, TEXT/JSON, ``logs_dir``, access log); None: the application's.
        max_constructor_retry_count: how many times a failing constructor is tried before
            the deployment is ``DEPLOY_FAILED`` (default 20; at most 3 per replica, as Ray).
        placement_group_bundles, placement_group_strategy, placement_group_bundle_label_selector:
            each replica reserves these bundles in a placement group of its own (``"PACK"``
            by default) and runs in the first (schedule its tasks into the other bundles with
            ``PlacementGroupSchedulingStrategy(get_current_placement_group(), i)``).
        deployment_actors: actors shared by the deployment's replicas (a list of
            ``DeploymentActorConfig`` or dicts of its fields), started before them; a replica
            gets one with ``serve.get_deployment_actor(name)``.
        gang_scheduling_config: a ``GangSchedulingConfig`` (or a dict of its fields): the
            replicas start, are placed and restart in gangs of ``gang_size``
            (``serve.get_replica_context().gang_context``); ``num_replicas`` must be a multiple
            of it, and ``max_replicas_per_node`` and ``placement_group_strategy`` must be unset.
        request_router_config: a ``RequestRouterConfig`` (or a dict of its fields): a custom
            ``RequestRouter`` that each caller's router asks where requests go, and how often
            the replicas' ``record_routing_stats()`` is collected for it.

    Example:
        >>> @deployment
        ... class Hello:
        ...     def __call__(self, name):
        ...         return f"hello {name}"
        >>> Hello.name, Hello.config.max_ongoing_requests, Hello.config.ray_actor_options
        ('Hello', 5, {'num_cpus': 1.0})
    """
    unknown = sorted(set(unsupported) - set(_UNSUPPORTED))
    if unknown:
        raise TypeError(f"serve.deployment() got unexpected argument(s) {unknown}")
    settings = _checked({**unsupported, "name": name, "version": version, "num_replicas": num_replicas,
                         "ray_actor_options": ray_actor_options, "max_replicas_per_node": max_replicas_per_node,
                         "user_config": user_config,
                         "max_ongoing_requests": max_ongoing_requests, "max_queued_requests": max_queued_requests,
                         "autoscaling_config": autoscaling_config,
                         "graceful_shutdown_wait_loop_s": graceful_shutdown_wait_loop_s,
                         "graceful_shutdown_timeout_s": graceful_shutdown_timeout_s,
                         "health_check_period_s": health_check_period_s,
                         "health_check_timeout_s": health_check_timeout_s, "logging_config": logging_config,
                         "max_constructor_retry_count": max_constructor_retry_count,
                         "placement_group_bundles": placement_group_bundles,
                         "placement_group_strategy": placement_group_strategy,
                         "placement_group_bundle_label_selector": placement_group_bundle_label_selector,
                         "backpressure_config": backpressure_config, "deployment_actors": deployment_actors,
                         "gang_scheduling_config": gang_scheduling_config,
                         "request_router_config": request_router_config})

    def decorate(target: Callable) -> Deployment:
        if isinstance(target, Deployment):
            target = target.target
        if not callable(target):
            raise TypeError(f"@serve.deployment applies to classes and functions, not {type(target).__name__}")
        values = dict(settings)
        values.setdefault("name", target.__name__)
        return Deployment(target, values)

    if _func_or_class is not None:
        return decorate(_func_or_class)
    return decorate


__all__ = ["DEFAULT", "Application", "Deployment", "DeploymentConfig", "deployment"]
