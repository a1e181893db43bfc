"""``@sd.serve.deployment``: a class (or function) served by replica actors, and
``Deployment.bind(*args)`` → an :class:`Application` that ``sd.serve.run`` deploys
(Ray Serve's names and defaults: 1 replica, ``max_ongoing_requests=5``, one CPU
per replica).

Example:
    >>> from streamdata import serve
    >>> @serve.deployment(num_replicas=2, max_ongoing_requests=8, num_cpus=0.5)
    ... class Model:
    ...     def __init__(self, scale):
    ...         self.scale = scale
    ...     def __call__(self, x):
    ...         return x * self.scale
    >>> app = Model.bind(3)
    >>> app.deployment.name, app.deployment.config.num_replicas, app.args
    ('Model', 2, (3,))
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from streamdata.serve.autoscaling import AutoscalingConfig

DEFAULT_MAX_ONGOING_REQUESTS = 5
_ACTOR_OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "runtime_env", "accelerator_type")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentConfig:
    """How a deployment runs: its replicas and their resources."""

    name: str
    num_replicas: int = 1
    max_ongoing_requests: int = DEFAULT_MAX_ONGOING_REQUESTS
    autoscaling_config: AutoscalingConfig | None = None
    actor_options: dict[str, Any] = dataclasses.field(default_factory=lambda: {"num_cpus": 1.0})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a deployment name must be a non-empty string, got {self.name!r}")
        n = self.num_replicas
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"num_replicas must be an int >= 0 or 'auto', got {n!r}")
        m = self.max_ongoing_requests
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"max_ongoing_requests must be an int >= 1, got {m!r}")
        unknown = sorted(set(self.actor_options) - set(_ACTOR_OPTION_KEYS))
        if unknown:
            raise ValueError(f"unknown replica actor option(s) {unknown}; valid: {list(_ACTOR_OPTION_KEYS)}")

    def initial_replicas(self) -> int:
        if self.autoscaling_config is not None:
            return self.autoscaling_config.start_replicas()
        return self.num_replicas


def _build_config(name: str, num_replicas: int | str | None, max_ongoing_requests: int,
                  autoscaling_config: Any, actor_options: dict[str, Any]) -> DeploymentConfig:
    if num_replicas == "auto":
        if autoscaling_config is not None:
            raise ValueError("num_replicas='auto' and an autoscaling_config cannot be combined")
        autoscaling = AutoscalingConfig(min_replicas=1, max_replicas=100, target_ongoing_requests=2)
        return DeploymentConfig(name=name, num_replicas=1, max_ongoing_requests=max_ongoing_requests,
                                autoscaling_config=autoscaling, actor_options=actor_options)
    if autoscaling_config is not None:
        if num_replicas is not None:
            raise ValueError("num_replicas and autoscaling_config cannot both be set (set "
                             "autoscaling_config's initial_replicas instead)")
        autoscaling = AutoscalingConfig.from_value(autoscaling_config)
        return DeploymentConfig(name=name, num_replicas=autoscaling.start_replicas(),
                                max_ongoing_requests=max_ongoing_requests, autoscaling_config=autoscaling,
                                actor_options=actor_options)
    return DeploymentConfig(name=name, num_replicas=1 if num_replicas is None else num_replicas,
                            max_ongoing_requests=max_ongoing_requests, actor_options=actor_options)


class Deployment:
    """A class or function to serve with replicas (``@serve.deployment`` makes one)."""

    def __init__(self, target: Callable, config: DeploymentConfig,
                 settings: dict[str, Any] | None = None) -> None:
        self._target = target
        self.config = config
        self._settings = dict(settings or {})

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target(self) -> Callable:
        return self._target

    @property
    def is_function(self) -> bool:
        return not inspect.isclass(self._target)

    def options(self, **changes: Any) -> Deployment:
        """A copy with some ``@serve.deployment`` arguments changed.

        Example:
            >>> @deployment(num_cpus=0)
            ... def f(x):
            ...     return x
            >>> f.options(num_replicas=3, name="g").config.num_replicas
            3
        """
        settings = {**self._settings, **changes}
        if "autoscaling_config" in changes and "num_replicas" not in changes:
            settings["num_replicas"] = None
        if changes.get("num_replicas") is not None and "autoscaling_config" not in changes:
            settings["autoscaling_config"] = None
        return deployment(self._target, **settings)

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        """An application of this deployment built with ``args``/``kwargs`` (which may
        hold other applications: their handles are passed in their place)."""
        if self.is_function and (args or kwargs):
            raise TypeError(f"function deployment {self.name!r} takes no constructor arguments in bind()")
        return Application(deployment=self, args=args, kwargs=dict(kwargs))

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


def deployment(_target: Callable | None = None, *, name: str | None = None,
               num_replicas: int | str | None = None,
               max_ongoing_requests: int = DEFAULT_MAX_ONGOING_REQUESTS,
               autoscaling_config: AutoscalingConfig | dict[str, Any] | None = None,
               num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
               resources: dict[str, float] | None = None,
               ray_actor_options: dict[str, Any] | None = None) -> Any:
    """Make a class (or function) a deployment (``@deployment`` or ``@deployment(...)``).

    Args:
        name: the deployment's name (default: the class or function name).
        num_replicas: how many replicas (default 1), or ``"auto"`` to autoscale.
        max_ongoing_requests: requests one replica handles at once (default 5).
        autoscaling_config: ``min_replicas``, ``max_replicas``, ``target_ongoing_requests``, ...
        num_cpus, num_gpus, memory, resources: each replica's resources (default one CPU).
        ray_actor_options: the same resources the Ray way (``{"num_gpus": 1}``).

    Example:
        >>> @deployment
        ... class Hello:
        ...     def __call__(self, name):
        ...         return f"hello {name}"
        >>> Hello.name, Hello.config.max_ongoing_requests, Hello.config.actor_options
        ('Hello', 5, {'num_cpus': 1.0})
    """
    settings = {"name": name, "num_replicas": num_replicas, "max_ongoing_requests": max_ongoing_requests,
                "autoscaling_config": autoscaling_config, "num_cpus": num_cpus, "num_gpus": num_gpus,
                "memory": memory, "resources": resources, "ray_actor_options": ray_actor_options}

    def decorate(target: Callable) -> Deployment:
        if isinstance(target, Deployment):
            target = target.target
        if not callable(target):
            raise TypeError(f"@serve.deployment applies to classes and functions, not {type(target).__name__}")
        actor_options: dict[str, Any] = dict(ray_actor_options or {})
        for key, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory),
                           ("resources", resources)):
            if value is not None:
                actor_options[key] = value
        actor_options.setdefault("num_cpus", 1.0)
        config = _build_config(name or target.__name__, num_replicas, max_ongoing_requests, autoscaling_config,
                               actor_options)
        return Deployment(target, config, settings)

    if _target is not None:
        return decorate(_target)
    return decorate


__all__ = ["Application", "Deployment", "DeploymentConfig", "deployment"]
