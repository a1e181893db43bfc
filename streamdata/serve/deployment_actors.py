"""Deployment-scoped actors (Ray Serve's ``DeploymentActorConfig`` and
``serve.get_deployment_actor``): runtime actors a deployment declares, started by the
controller and shared by all of the deployment's replicas.

Their lifecycle, as Ray's:

- they are started when the deployment is deployed, before its replicas: a replica
  starts once every one of them has run its constructor (a constructor that keeps
  failing fails the deploy);
- there is one set per code version: a redeploy that changes only the config
  (``num_replicas``, ``user_config``, autoscaling, ...) keeps them and their state; one
  that changes the code, the constructor arguments or the actor configs starts a new
  set for the new replicas, and the old set goes once the old replicas have stopped;
- the controller health-checks them; a dead one (killed, crashed) is started again
  (the runtime does not restart it: ``max_restarts=0``), and handles taken before
  point at the dead one: call :func:`get_deployment_actor` again;
- they go after the deployment's replicas when the deployment, its application or
  serve is deleted.

This module holds the config, the actors' names and what replicas and deployment
actors call; :mod:`.deployment_actor_state` runs them in the controller.

Example:
    >>> class Counter:
    ...     def __init__(self, start=0):
    ...         self.value = start
    >>> cfg = DeploymentActorConfig(name="counter", actor_class=Counter, init_kwargs={"start": 10})
    >>> cfg.name, cfg.init_args, cfg.init_kwargs
    ('counter', (), {'start': 10})
    >>> deployment_actor_name("app", "Model", "0123456789abcdef0123", "counter")
    'SERVE_DEPLOYMENT_ACTOR::app#Model#0123456789abcdef#counter'
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from streamdata.errors import RayServeException
from streamdata.serve._runtime import runtime

#: the prefix of a deployment actor's runtime name
ACTOR_NAME_PREFIX = "SERVE_DEPLOYMENT_ACTOR::"
#: actor options Serve sets itself on a deployment actor
_MANAGED_OPTIONS = ("name", "namespace", "lifetime", "max_restarts", "get_if_exists")


def _is_actor_class(value: Any) -> bool:
    """An ``sd.remote`` (or ``ray.remote``) class: it has ``.remote`` and ``.options``."""
    return not inspect.isclass(value) and callable(getattr(value, "remote", None)) and \
        callable(getattr(value, "options", None))


def _split_path(path: str) -> tuple[str, str]:
    """``"pkg.module:Class"`` (or ``"pkg.module.Class"``) as its module and attribute."""
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    return module.strip(), attr.strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentActorConfig:
    """One deployment-scoped actor of a deployment (Ray Serve's ``DeploymentActorConfig``).

    Args:
        name: its name within the deployment (what :func:`get_deployment_actor` takes).
        actor_class: an ``@sd.remote`` class, a plain class, or an import path
            (``"pkg.module:Class"``).
        init_args, init_kwargs: the constructor's arguments.
        actor_options: runtime actor options (``num_cpus``, ``num_gpus``, ``memory``,
            ``resources``, ``runtime_env``, ``max_concurrency``, ...). The actor inherits the
            deployment's ``runtime_env``; a ``runtime_env`` here overrides its keys.

    Example:
        >>> DeploymentActorConfig.from_value({"name": "cache", "actor_class": "collections:Counter"}).actor_class
        'collections:Counter'
    """

    name: str
    actor_class: Any
    init_args: tuple = ()
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    actor_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "#" in self.name:
            raise ValueError(f"DeploymentActorConfig(name=...) must be a non-empty string without '#', got "
                             f"{self.name!r}")
        cls = self.actor_class
        if isinstance(cls, str):
            if not all(_split_path(cls)):
                raise ValueError(f"DeploymentActorConfig(actor_class=...) import path must look like "
                                 f"'pkg.module:Class', got {cls!r}")
        elif not (inspect.isclass(cls) or _is_actor_class(cls)):
            raise TypeError(f"DeploymentActorConfig(actor_class=...) of {self.name!r} must be an @sd.remote class, "
                            f"a class or an import path, got {cls!r}")
        if isinstance(self.init_args, list):
            object.__setattr__(self, "init_args", tuple(self.init_args))
        if not isinstance(self.init_args, tuple):
            raise TypeError(f"DeploymentActorConfig(init_args=...) must be a tuple or list, got {self.init_args!r}")
        for what in ("init_kwargs", "actor_options"):
            value = getattr(self, what)
            if value is None:
                object.__setattr__(self, what, {})
            elif not isinstance(value, dict):
                raise TypeError(f"DeploymentActorConfig({what}=...) must be a dict, got {value!r}")
        managed = sorted(set(self.actor_options) & set(_MANAGED_OPTIONS))
        if managed:
            raise ValueError(f"DeploymentActorConfig(actor_options=...) of {self.name!r} sets {managed}: Serve sets "
                             f"{list(_MANAGED_OPTIONS)} itself")

    @classmethod
    def from_value(cls, value: Any) -> DeploymentActorConfig:
        """A config from itself or a dict of its fields (unknown keys raise)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"deployment_actors entries must be DeploymentActorConfig or dicts, got {value!r}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown DeploymentActorConfig field(s) {unknown}; valid: {known}")
        return cls(**value)

    def remote_class(self) -> Any:
        """The class as an ``sd.remote`` actor class (an import path is imported here)."""
        cls = self.actor_class
        if isinstance(cls, str):
            module, attr = _split_path(cls)
            try:
                cls = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ImportError(f"the actor_class {self.actor_class!r} of deployment actor {self.name!r} cannot be "
                                  f"imported: {exc}") from exc
        return cls if _is_actor_class(cls) else runtime().remote(cls)


def coerce_deployment_actors(value: Any, deployment: str = "") -> tuple[DeploymentActorConfig, ...]:
    """``deployment_actors=`` as a tuple of configs, their names distinct.

    Example:
        >>> coerce_deployment_actors([{"name": "a", "actor_class": "m:A"}])[0].name
        'a'
        >>> coerce_deployment_actors(None)
        ()
    """
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"deployment_actors of deployment {deployment!r} must be a list of DeploymentActorConfig, "
                        f"got {value!r}")
    configs = tuple(DeploymentActorConfig.from_value(v) for v in value)
    names = [c.name for c in configs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"deployment {deployment!r} declares the deployment actor name(s) {twice} more than once")
    return configs


def deployment_actor_name(app_name: str, deployment: str, code_version: str, actor_name: str) -> str:
    """The runtime name of a deployment actor: one per application, deployment, code
    version and actor (the same name again after a controller restart)."""
    return f"{ACTOR_NAME_PREFIX}{app_name}#{deployment}#{code_version[:16]}#{actor_name}"


@dataclass(frozen=True, slots=True)
class DeploymentActorContext:
    """What a deployment actor knows about itself (``serve.get_deployment_actor_context()``)."""

    deployment_id: Any
    actor_name: str
    code_version: str | None = None

    @property
    def app_name(self) -> str:
        return self.deployment_id.app_name

    @property
    def deployment(self) -> str:
        return self.deployment_id.name


def parse_deployment_actor_name(name: str | None) -> DeploymentActorContext | None:
    """The context of the deployment actor named ``name`` (None: not a deployment actor's name).

    Example:
        >>> ctx = parse_deployment_actor_name("SERVE_DEPLOYMENT_ACTOR::my#app#Model#0123#counter")
        >>> ctx.app_name, ctx.deployment, ctx.actor_name, ctx.code_version
        ('my#app', 'Model', 'counter', '0123')
    """
    from streamdata.serve.context import DeploymentID

    if not name or not name.startswith(ACTOR_NAME_PREFIX):
        return None
    parts = name[len(ACTOR_NAME_PREFIX):].rsplit("#", 3)
    if len(parts) != 4:
        return None
    app, deployment, version, actor = parts
    return DeploymentActorContext(DeploymentID(deployment, app), actor, version)


def get_deployment_actor_context() -> DeploymentActorContext:
    """The context of the deployment actor running this code; raises elsewhere.

    Example:
        >>> try:
        ...     get_deployment_actor_context()
        ... except RayServeException as e:
        ...     print("deployment actor" in str(e))
        True
    """
    context = parse_deployment_actor_name(runtime().get_runtime_context().get_actor_name())
    if context is None:
        raise RayServeException("serve.get_deployment_actor_context() may only be called from within a deployment "
                                "actor (an actor a deployment declares in deployment_actors=[...])")
    return context


#: this process's replicas: (app, deployment, replica id) -> {actor name: runtime name}
_names: dict[tuple[str, str, str], dict[str, str]] = {}


def get_deployment_actor(actor_name: str) -> Any:
    """The handle of the deployment actor ``actor_name`` of the deployment whose replica
    runs this code (Ray Serve's ``serve.get_deployment_actor``).

    Raises:
        RayServeException: called outside a replica (the driver, a task, local testing mode).
        ValueError: the deployment declares no actor of that name (the message lists the
            names it declares), or the actor is being started again after it died (call
            again shortly; the new actor starts empty).

    Example:
        >>> try:
        ...     get_deployment_actor("counter")
        ... except RayServeException as e:
        ...     print("within a replica" in str(e))
        True
    """
    from streamdata.serve import context
    from streamdata.serve.client import CONTROLLER_NAME

    replica = context._replica_context
    if replica is None:
        raise RayServeException(f"serve.get_deployment_actor({actor_name!r}) may only be called from within a "
                                "replica of a deployment (its constructor or its methods)")
    app, deployment = replica.app_name, replica.deployment
    key = (app, deployment, replica.replica_tag)
    rt = runtime()
    names = _names.get(key)
    if names is None:
        controller = rt.get_actor(CONTROLLER_NAME)
        names = _names[key] = rt.get(controller.get_deployment_actor_names.remote(*key), timeout=60)
    if actor_name not in names:
        declared = f"its deployment actors: {sorted(names)}" if names else \
            "it declares none (serve.deployment(deployment_actors=[DeploymentActorConfig(...)]))"
        raise ValueError(f"deployment {deployment!r} of application {app!r} has no deployment actor "
                         f"{actor_name!r}; {declared}")
    try:
        return rt.get_actor(names[actor_name])
    except ValueError as exc:
        raise ValueError(f"the deployment actor {actor_name!r} of deployment {deployment!r} (application {app!r}) is "
                         "not running: it is being started again after it died; call "
                         "serve.get_deployment_actor() again shortly") from exc


__all__ = ["DeploymentActorConfig", "DeploymentActorContext", "coerce_deployment_actors",
           "deployment_actor_name", "get_deployment_actor", "get_deployment_actor_context",
           "parse_deployment_actor_name"]
