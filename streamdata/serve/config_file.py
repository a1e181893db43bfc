"""Serve config files (Ray Serve's ``serve run config.yaml`` format), read and checked.

A config file has Ray's ``ServeDeploySchema`` shape: ``proxy_location``,
``http_options``, ``grpc_options``, ``logging_config`` and ``applications``, each
application with ``name``, ``route_prefix``, ``import_path``, ``args``,
``runtime_env`` and ``deployments`` (per-deployment options that override the
code's). This module only parses and validates (no imports of user code, no
processes); :mod:`streamdata.serve.config_apply` imports the applications and
runs them. Every error is a :class:`ConfigError` naming the file, the application
and the field.

Unlike Ray (whose models ignore keys they do not know), an unknown key is an
error here: a misspelt option would otherwise silently change nothing.

Example:
    >>> cfg = parse_config({"http_options": {"port": 0}, "applications": [
    ...     {"name": "a", "route_prefix": "/a", "import_path": "pkg.mod:app",
    ...      "deployments": [{"name": "Model", "num_replicas": 2, "user_config": {"k": 1}}]}]}, "serve.yaml")
    >>> app = cfg.applications[0]
    >>> app.name, app.module, app.attr, app.deployments[0].options
    ('a', 'pkg.mod', 'app', {'num_replicas': 2, 'user_config': {'k': 1}})
    >>> parse_config({"applications": [{"import_path": "m:app", "route_prefx": "/"}]}, "serve.yaml")
    Traceback (most recent call last):
    ...
    streamdata.serve.config_file.ConfigError: serve.yaml: application 'default': unknown field 'route_prefx'; valid fields: ['args', 'autoscaling_policy', 'deployments', 'external_scaler_enabled', 'host', 'import_path', 'logging_config', 'name', 'port', 'route_prefix', 'runtime_env']
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve.config import HTTPOptions, gRPCOptions
from streamdata.serve.logs import coerce_logging_config

_TOP_FIELDS = ("proxy_location", "http_options", "grpc_options", "controller_options", "logging_config",
               "tracing_config", "applications", "target_capacity")
_HTTP_FIELDS = ("host", "port", "root_path", "request_timeout_s", "keep_alive_timeout_s", "ssl_keyfile",
                "ssl_certfile", "ssl_keyfile_password", "ssl_ca_certs")
_GRPC_FIELDS = ("port", "grpc_servicer_functions", "request_timeout_s", "enable_reflection")
# ``host``/``port`` per application are Ray's deprecated single-application fields: read, not used
_APP_FIELDS = ("name", "route_prefix", "import_path", "runtime_env", "host", "port", "deployments",
               "autoscaling_policy", "args", "logging_config", "external_scaler_enabled")
_DEPLOYMENT_FIELDS = ("name", "num_replicas", "max_ongoing_requests", "max_queued_requests", "backpressure_config",
                      "user_config", "autoscaling_config", "graceful_shutdown_wait_loop_s",
                      "graceful_shutdown_timeout_s", "health_check_period_s", "health_check_timeout_s",
                      "ray_actor_options", "placement_group_bundles", "placement_group_strategy",
                      "placement_group_bundle_label_selector", "max_replicas_per_node", "logging_config",
                      "request_router_config", "gang_scheduling_config", "deployment_actors",
                      "rolling_update_percentage", "max_surge_percent")
#: Ray's deployment options streamdata's serve does not have (see ``deployment._UNSUPPORTED``), and
#: ``deployment_actors`` (actor classes: code, not config)
_DEPLOYMENT_UNSUPPORTED = ("deployment_actors", "rolling_update_percentage", "max_surge_percent")
_PROXY_LOCATIONS = ("Disabled", "HeadOnly", "EveryNode")
#: Ray's default for ``num_replicas: auto`` (the autoscaling config it stands for)
AUTO_AUTOSCALING = {"min_replicas": 1, "max_replicas": 100, "target_ongoing_requests": 2}
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*([:.][A-Za-z_]\w*(\.[A-Za-z_]\w*)*)$")


class ConfigError(ValueError):
    """A config file (or an application it names) that cannot be run as written."""


@dataclass(frozen=True)
class DeploymentOverride:
    """One ``deployments:`` entry: the deployment's name and the options the file sets."""

    name: str
    options: dict[str, Any]


@dataclass(frozen=True)
class AppConfig:
    """One ``applications:`` entry."""

    name: str
    import_path: str
    route_prefix: str | None = "/"
    args: dict[str, Any] = field(default_factory=dict)
    runtime_env: dict[str, Any] = field(default_factory=dict)
    deployments: tuple[DeploymentOverride, ...] = ()
    logging_config: dict[str, Any] | None = None
    autoscaling_policy: dict[str, Any] | None = None

    @property
    def module(self) -> str:
        return split_import_path(self.import_path)[0]

    @property
    def attr(self) -> str:
        return split_import_path(self.import_path)[1]


@dataclass(frozen=True)
class ServeConfig:
    """A whole config file: where the proxy listens and the applications to run."""

    source: str
    applications: tuple[AppConfig, ...]
    proxy_location: str = "EveryNode"
    http_options: dict[str, Any] = field(default_factory=dict)
    grpc_options: dict[str, Any] = field(default_factory=dict)
    logging_config: dict[str, Any] | None = None

    def with_http_options(self, **changes: Any) -> ServeConfig:
        """A copy whose ``http_options`` take ``changes`` (the CLI's ``--host``/``--port``)."""
        options = {**self.http_options, **{k: v for k, v in changes.items() if v is not None}}
        _http_options(options, self.source)
        return dataclasses.replace(self, http_options=options)


def split_import_path(import_path: str, where: str = "import_path") -> tuple[str, str]:
    """``"pkg.mod:attr"`` (or Ray's other spelling ``"pkg.mod.attr"``) → ``("pkg.mod", "attr")``.

    Example:
        >>> split_import_path("pkg.mod:app"), split_import_path("pkg.mod.app")
        (('pkg.mod', 'app'), ('pkg.mod', 'app'))
        >>> split_import_path("app")
        Traceback (most recent call last):
        ...
        streamdata.serve.config_file.ConfigError: import_path 'app' must be 'module:attribute' (or 'module.attribute'), e.g. 'my_app:app'
    """
    if not isinstance(import_path, str) or not _IMPORT_PATH.match(import_path.strip()):
        raise ConfigError(f"{where} {import_path!r} must be 'module:attribute' (or 'module.attribute'), "
                          "e.g. 'my_app:app'")
    path = import_path.strip()
    if ":" in path:
        module, attr = path.split(":", 1)
    else:
        module, attr = path.rsplit(".", 1)
    return module, attr


def load_config(path: str) -> ServeConfig:
    """Read and check the YAML (or JSON) config file ``path``."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - the serve extra brings it
        raise ImportError("reading serve config files needs PyYAML: pip install 'streamdata[serve]'") from exc
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, path)


def parse_config(data: Any, source: str = "<config>") -> ServeConfig:
    """Check a config's content (the file's parsed YAML) and return it as a :class:`ServeConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a serve config must be a mapping with an 'applications' list, "
                          f"got {type(data).__name__}")
    if "applications" not in data and "import_path" in data:
        raise ConfigError(f"{source}: this is a single-application config (a top-level 'import_path'); "
                          "put the application under 'applications:' as a list item")
    _unknown(data, _TOP_FIELDS, source, "")
    for key in ("controller_options", "tracing_config"):
        if data.get(key):
            raise ConfigError(f"{source}: field {key!r} is not supported by streamdata (one machine, no tracing "
                              "exporter); remove it")
    if data.get("target_capacity") not in (None, 100, 100.0):
        raise ConfigError(f"{source}: field 'target_capacity' is not supported by streamdata (it scales a "
                          "cluster's replicas for a rollout); remove it")
    location = data.get("proxy_location", "EveryNode")
    if location not in _PROXY_LOCATIONS:
        raise ConfigError(f"{source}: field 'proxy_location' must be one of {list(_PROXY_LOCATIONS)}, "
                          f"got {location!r}")
    http = _mapping(data.get("http_options"), source, "field 'http_options'")
    _unknown(http, _HTTP_FIELDS, source, "http_options")
    _http_options(http, source)
    grpc = _mapping(data.get("grpc_options"), source, "field 'grpc_options'")
    _unknown(grpc, _GRPC_FIELDS, source, "grpc_options")
    _checked(lambda: gRPCOptions(**grpc), source, "field 'grpc_options'")
    logging_config = _checked(lambda: coerce_logging_config(data.get("logging_config"), "logging_config"),
                              source, "field 'logging_config'")
    apps = data.get("applications")
    if not isinstance(apps, list):
        raise ConfigError(f"{source}: field 'applications' must be a list of applications, got {apps!r}")
    parsed = tuple(_application(app, i, source) for i, app in enumerate(apps))
    seen_names: set[str] = set()
    seen_prefixes: dict[str, str] = {}
    for app in parsed:
        if app.name in seen_names:
            raise ConfigError(f"{source}: two applications are named {app.name!r}; names must be unique")
        seen_names.add(app.name)
        if app.route_prefix is not None:
            if app.route_prefix in seen_prefixes:
                raise ConfigError(f"{source}: applications {seen_prefixes[app.route_prefix]!r} and {app.name!r} "
                                  f"both have route_prefix {app.route_prefix!r}; route prefixes must be unique")
            seen_prefixes[app.route_prefix] = app.name
    return ServeConfig(source, parsed, location, http, grpc, logging_config)


def _application(data: Any, index: int, source: str) -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: applications[{index}] must be a mapping, got {data!r}")
    name = data.get("name", "default")
    where = f"application {name!r}" if isinstance(name, str) and name else f"applications[{index}]"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: {where}: field 'name' must be a non-empty string, got {name!r}")
    _unknown(data, _APP_FIELDS, source, where)
    if "import_path" not in data:
        raise ConfigError(f"{source}: {where}: field 'import_path' is required (e.g. 'my_app:app')")
    import_path = data["import_path"]
    _checked(lambda: split_import_path(import_path, "field 'import_path'"), source, where)
    prefix = data.get("route_prefix", "/")
    if prefix is not None and (not isinstance(prefix, str) or not prefix.startswith("/")):
        raise ConfigError(f"{source}: {where}: field 'route_prefix' must start with '/' (or be null for no "
                          f"HTTP route), got {prefix!r}")
    if data.get("external_scaler_enabled"):
        raise ConfigError(f"{source}: {where}: field 'external_scaler_enabled' is not supported by streamdata")
    args = _mapping(data.get("args"), source, f"{where}: field 'args'")
    runtime_env = _runtime_env(data.get("runtime_env"), source, f"{where}: field 'runtime_env'")
    policy = data.get("autoscaling_policy")
    if policy is not None and not isinstance(policy, dict):
        raise ConfigError(f"{source}: {where}: field 'autoscaling_policy' must be a mapping "
                          f"(policy_function: 'module:function'), got {policy!r}")
    logging_config = _checked(lambda: coerce_logging_config(data.get("logging_config"), "logging_config"),
                              source, f"{where}: field 'logging_config'")
    deployments = data.get("deployments") or []
    if not isinstance(deployments, list):
        raise ConfigError(f"{source}: {where}: field 'deployments' must be a list, got {deployments!r}")
    overrides = tuple(_deployment(d, j, source, where) for j, d in enumerate(deployments))
    names = [o.name for o in overrides]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"{source}: {where}: deployment {n!r} is listed twice")
    return AppConfig(name, import_path.strip(), prefix, args, runtime_env, overrides, logging_config, policy)


def _deployment(data: Any, index: int, source: str, app_where: str) -> DeploymentOverride:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {app_where}: deployments[{index}] must be a mapping, got {data!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: {app_where}: deployments[{index}]: field 'name' is required (the "
                          f"deployment's name), got {name!r}")
    where = f"{app_where}, deployment {name!r}"
    _unknown(data, _DEPLOYMENT_FIELDS, source, where)
    for key in _DEPLOYMENT_UNSUPPORTED:
        if key in data:
            raise ConfigError(f"{source}: {where}: field {key!r} is not supported by streamdata")
    options = {k: v for k, v in data.items() if k != "name"}
    if "user_config" in options and options["user_config"] is not None and not isinstance(options["user_config"],
                                                                                           dict):
        raise ConfigError(f"{source}: {where}: field 'user_config' must be a mapping, got "
                          f"{options['user_config']!r}")
    actor_options = options.get("ray_actor_options")
    if actor_options is not None:
        if not isinstance(actor_options, dict):
            raise ConfigError(f"{source}: {where}: field 'ray_actor_options' must be a mapping, got "
                              f"{actor_options!r}")
        _runtime_env(actor_options.get("runtime_env"), source, f"{where}: field 'ray_actor_options.runtime_env'")
        # Ray's schema writes the keys it has as null/{}: those mean "not set"
        options["ray_actor_options"] = {k: v for k, v in actor_options.items() if v not in (None, {})}
    _checked(lambda: _deployment_config(name, options), source, where)
    return DeploymentOverride(name, options)


def deployment_options(options: dict[str, Any]) -> dict[str, Any]:
    """A config's deployment options as ``Deployment.options`` takes them (``num_replicas: auto``
    with an ``autoscaling_config`` becomes that config over Ray's ``auto`` defaults).

    Example:
        >>> deployment_options({"num_replicas": "auto", "autoscaling_config": {"max_replicas": 4}})
        {'autoscaling_config': {'min_replicas': 1, 'max_replicas': 4, 'target_ongoing_requests': 2}}
    """
    out = dict(options)
    if out.get("num_replicas") == "auto" and out.get("autoscaling_config") is not None:
        del out["num_replicas"]
        out["autoscaling_config"] = {**AUTO_AUTOSCALING, **out["autoscaling_config"]}
    return out


def _deployment_config(name: str, options: dict[str, Any]) -> Any:
    from streamdata.serve.deployment import _build_config

    return _build_config({"name": name, **deployment_options(options)})


def _http_options(options: dict[str, Any], source: str) -> None:
    _checked(lambda: HTTPOptions(**options), source, "field 'http_options'")


def _runtime_env(value: Any, source: str, where: str) -> dict[str, Any]:
    env = _mapping(value, source, where)
    env_vars = env.get("env_vars")
    if env_vars is not None and (not isinstance(env_vars, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items())):
        raise ConfigError(f"{source}: {where}: 'env_vars' must map names to strings (quote numbers), "
                          f"got {env_vars!r}")
    return env


def _mapping(value: Any, source: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {value!r}")
    return dict(value)


def _unknown(data: dict[str, Any], known: tuple[str, ...], source: str, where: str) -> None:
    for key in data:
        if key not in known:
            prefix = f"{where}: " if where else ""
            raise ConfigError(f"{source}: {prefix}unknown field {key!r}; valid fields: {sorted(known)}")


def _checked(make: Any, source: str, where: str) -> Any:
    """``make()``, its ValueError/TypeError turned into a ConfigError naming ``source`` and ``where``."""
    try:
        return make()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from None
    except (ValueError, TypeError, FileNotFoundError, NotImplementedError) as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from None


__all__ = ["AUTO_AUTOSCALING", "AppConfig", "ConfigError", "DeploymentOverride", "ServeConfig",
           "deployment_options", "load_config", "parse_config", "split_import_path"]
