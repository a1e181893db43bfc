"""Serve config files put to work: import each application, apply the file's deployment
options, run them all (``streamdata-serve run config.yaml``); and the reverse, a config
written from import paths (``streamdata-serve build``).

An application's ``import_path`` names either a bound application
(``Deployment.bind(...)``) or an application builder: a function of one argument, called
with the application's ``args`` (converted to the argument's pydantic model when it is
annotated with one), as Ray does. A ``deployments:`` entry overrides the options of the
deployment it names; naming a deployment the application does not have is an error.

Example:
    >>> from streamdata import serve
    >>> @serve.deployment(ray_actor_options={"num_cpus": 0})
    ... class Doubler:
    ...     def __call__(self, x):
    ...         return 2 * x
    >>> from streamdata.serve.config_file import DeploymentOverride
    >>> app = apply_overrides(Doubler.bind(), [DeploymentOverride("Doubler", {"num_replicas": 3})], {}, "cfg")
    >>> app.deployment.num_replicas
    3
    >>> apply_overrides(Doubler.bind(), [DeploymentOverride("Tripler", {})], {}, "cfg: application 'a'")
    Traceback (most recent call last):
    ...
    streamdata.serve.config_file.ConfigError: cfg: application 'a': deployment 'Tripler' (in 'deployments') does not exist in the application; its deployments: ['Doubler']
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import importlib
import inspect
import os
import sys
from typing import Any, Iterator, Sequence

from streamdata.serve.config_file import (
    AppConfig,
    ConfigError,
    DeploymentOverride,
    ServeConfig,
    deployment_options,
    split_import_path,
)
from streamdata.serve.deployment import Application, Deployment

#: the settings ``build`` does not write (not config options in Ray's schema, or code)
_NOT_WRITTEN = ("name", "version", "deployment_actors")


def import_attr(import_path: str, where: str) -> Any:
    """The object ``import_path`` (``module:attr`` or ``module.attr``) names."""
    module_name, attr = split_import_path(import_path, f"{where}: import_path")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - a missing module or one that fails while importing
        raise ConfigError(f"{where}: import_path {import_path!r}: cannot import module {module_name!r}: "
                          f"{type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{where}: import_path {import_path!r}: module {module_name!r} has no attribute "
                              f"{attr!r}") from None
    return obj


def build_application(target: Any, args: dict[str, Any], where: str) -> Application:
    """``target`` if it is an application; else the application its builder returns for ``args``."""
    if isinstance(target, Application):
        if args:
            raise ConfigError(f"{where}: args can only be given to an application builder function, and "
                              "the import path names an application already bound")
        return target
    if isinstance(target, Deployment):
        raise ConfigError(f"{where}: the import path names the deployment {target.name!r}, not an application; "
                          f"name the result of {target.name}.bind(...) instead")
    if not inspect.isfunction(target):
        raise ConfigError(f"{where}: the import path must name an application (Deployment.bind(...)) or an "
                          f"application builder function, got {type(target).__name__}")
    params = list(inspect.signature(target).parameters.values())
    if len(params) != 1:
        raise ConfigError(f"{where}: the application builder {target.__name__}() must take exactly one argument "
                          f"(the args dictionary), it takes {len(params)}")
    annotation = params[0].annotation
    if inspect.isclass(annotation) and callable(getattr(annotation, "model_validate", None)):
        try:
            args = annotation.model_validate(args)
        except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError
            raise ConfigError(f"{where}: args do not fit {annotation.__name__}: {exc}") from exc
    app = target(args)
    if not isinstance(app, Application):
        raise ConfigError(f"{where}: the application builder {target.__name__}() must return an application "
                          f"(Deployment.bind(...)), it returned {type(app).__name__}")
    return app


def _children(value: Any) -> Iterator[Application]:
    if isinstance(value, Application):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _children(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _children(v)


def deployments_of(app: Application) -> list[Deployment]:
    """The deployments of ``app``'s graph, those it is built with first, the ingress last."""
    out: list[Deployment] = []
    seen: set[int] = set()

    def visit(node: Application) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in _children((node.args, node.kwargs)):
            visit(child)
        if all(d.name != node.deployment.name for d in out):
            out.append(node.deployment)

    visit(app)
    return out


def _merged_runtime_env(app_env: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
    """A deployment's runtime_env over its application's (``env_vars`` merged key by key)."""
    own = dict(own or {})
    merged = {**app_env, **own}
    if app_env.get("env_vars") or own.get("env_vars"):
        merged["env_vars"] = {**(app_env.get("env_vars") or {}), **(own.get("env_vars") or {})}
    return merged


def apply_overrides(app: Application, overrides: Sequence[DeploymentOverride], runtime_env: dict[str, Any],
                    where: str) -> Application:
    """``app`` with each named deployment's options replaced by the override's, and every
    deployment given the application's ``runtime_env`` under its own."""
    names = [d.name for d in deployments_of(app)]
    by_name = {o.name: o for o in overrides}
    for name in by_name:
        if name not in names:
            raise ConfigError(f"{where}: deployment {name!r} (in 'deployments') does not exist in the application; "
                              f"its deployments: {names}")
    rebuilt: dict[int, Application] = {}

    def resolve(value: Any) -> Any:
        if isinstance(value, Application):
            return rebuild(value)
        if isinstance(value, (list, tuple)):
            return type(value)(resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    def rebuild(node: Application) -> Application:
        if id(node) in rebuilt:
            return rebuilt[id(node)]
        dep = node.deployment
        override = by_name.get(dep.name)
        if override is not None:
            try:
                dep = dep.options(**deployment_options(override.options))
            except (ValueError, TypeError, NotImplementedError) as exc:
                raise ConfigError(f"{where}, deployment {dep.name!r}: {exc}") from None
        if runtime_env:
            options = dep.ray_actor_options
            options["runtime_env"] = _merged_runtime_env(runtime_env, options.get("runtime_env"))
            dep = dep.options(ray_actor_options=options)
        args = tuple(resolve(a) for a in node.args)
        kwargs = {k: resolve(v) for k, v in node.kwargs.items()}
        out = Application(deployment=dep, args=args, kwargs=kwargs)
        rebuilt[id(node)] = out
        return out

    return rebuild(app)


@contextlib.contextmanager
def _import_env(runtime_env: dict[str, Any]) -> Iterator[None]:
    """The application's ``env_vars`` (and local ``working_dir`` on ``sys.path``) while its code is
    imported and its builder runs, as Ray imports it in a task with that runtime_env."""
    env_vars = runtime_env.get("env_vars") or {}
    saved = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    working_dir = runtime_env.get("working_dir")
    if isinstance(working_dir, str) and os.path.isdir(working_dir) and os.path.abspath(working_dir) not in sys.path:
        sys.path.insert(0, os.path.abspath(working_dir))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare_application(app: AppConfig, source: str) -> Application:
    """Import the application ``app`` of the config file ``source``, ready to run."""
    where = f"{source}: application {app.name!r}"
    with _import_env(app.runtime_env):
        target = import_attr(app.import_path, where)
        built = build_application(target, app.args, where)
    return apply_overrides(built, app.deployments, app.runtime_env, where)


def prepare_config(config: ServeConfig) -> list[tuple[AppConfig, Application]]:
    """Every application of ``config``, imported and with the file's options applied (all of
    them before anything starts: a bad one starts nothing)."""
    return [(app, prepare_application(app, config.source)) for app in config.applications]


def deploy_config(config: ServeConfig,
                  prepared: list[tuple[AppConfig, Application]] | None = None) -> list[tuple[str, str | None]]:
    """Start serve with ``config``'s proxy options and run each of its applications
    (``prepared``: :func:`prepare_config`'s answer); the ``(name, route_prefix)`` of each."""
    from streamdata.serve import api

    built = prepare_config(config) if prepared is None else prepared
    grpc = config.grpc_options if config.grpc_options.get("grpc_servicer_functions") else None
    api.start(proxy_location=config.proxy_location, http_options=config.http_options, grpc_options=grpc,
              logging_config=config.logging_config)
    for app, target in built:
        api.run(target, name=app.name, route_prefix=app.route_prefix,
                logging_config=app.logging_config or config.logging_config,
                autoscaling_policy=app.autoscaling_policy)
    return [(app.name, app.route_prefix) for app in config.applications]


# ---- build: import paths -> a config


def _plain(value: Any, where: str) -> Any:
    """``value`` as YAML's plain types (dataclasses: the fields that differ from their defaults)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if current != default:
                out[f.name] = _plain(current, f"{where}.{f.name}")
        return out
    raise ConfigError(f"{where} is a {type(value).__name__}, which a config file cannot hold")


def deployment_schema(dep: Deployment, where: str) -> dict[str, Any]:
    """A ``deployments:`` entry for ``dep``: its name and the options its code sets."""
    out: dict[str, Any] = {"name": dep.name}
    for key, value in dep._settings.items():  # noqa: SLF001 - the options given in code, as Ray writes them
        if key not in _NOT_WRITTEN:
            out[key] = _plain(value, f"{where}, deployment {dep.name!r}: option {key!r}")
    return out


def build_config(import_paths: Sequence[str], grpc_servicer_functions: Sequence[str] = (),
                 enable_reflection: bool = True) -> dict[str, Any]:
    """A config running the applications ``import_paths`` name (``app1``, ``app2``, ...), with
    each deployment's options as its code sets them."""
    from streamdata.serve.logs import LoggingConfig

    apps = []
    for i, path in enumerate(import_paths, start=1):
        name = f"app{i}"
        where = f"import path {path!r}"
        target = import_attr(path, where)
        if not isinstance(target, Application):
            raise ConfigError(f"{where}: build takes applications (Deployment.bind(...)), got "
                              f"{type(target).__name__}")
        apps.append({"name": name, "route_prefix": "/" if len(import_paths) == 1 else f"/{name}",
                     "import_path": path, "runtime_env": {},
                     "deployments": [deployment_schema(d, where) for d in deployments_of(target)]})
    return {"proxy_location": "EveryNode",
            "http_options": {"host": "127.0.0.1", "port": 8000},
            "grpc_options": {"port": 9000, "grpc_servicer_functions": list(grpc_servicer_functions),
                             "enable_reflection": enable_reflection},
            "logging_config": dataclasses.asdict(LoggingConfig()),
            "applications": apps}


def dump_config(config: dict[str, Any], header: str = "") -> str:
    """``config`` as YAML, a blank line between its top-level fields."""
    import yaml

    parts = [yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, indent=2, width=100)
             for key, value in config.items()]
    return header + "\n".join(parts)


__all__ = ["apply_overrides", "build_application", "build_config", "deploy_config", "prepare_config", "deployment_schema",
           "deployments_of", "dump_config", "import_attr", "prepare_application"]
