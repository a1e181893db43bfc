"""Serve config files without processes: parsing and validation (``serve.config_file``), and
importing applications, applying a file's deployment options and ``build``'s output
(``serve.config_apply``), all in this process (nothing is deployed)."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
import yaml

from streamdata.serve.cli import parse_arguments, parse_command_line
from streamdata.serve.config_apply import (
    build_config,
    deployments_of,
    dump_config,
    prepare_application,
    prepare_config,
)
from streamdata.serve.config_file import ConfigError, load_config, parse_config, split_import_path

_counter = itertools.count()

APP_CODE = """
from streamdata import serve

@serve.deployment(ray_actor_options={"num_cpus": 0}, user_config={"greeting": "hello"})
class Greeter:
    def __call__(self, name):
        return name

@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=7)
class Ingress:
    def __init__(self, greeter):
        self.greeter = greeter

app = Ingress.bind(Greeter.bind())

def builder(args):
    return Greeter.options(user_config={"greeting": args["greeting"]}).bind()

def two_args(a, b):
    return app

def not_an_app(args):
    return 42

not_bound = Greeter
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of applications (a new name each test: modules are imported once)."""
    name = f"cfg_test_app_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(APP_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _config(**app: object) -> dict:
    return {"applications": [{"name": "a", "import_path": "m:app", **app}]}


def test_a_full_config_parses() -> None:
    cfg = parse_config(yaml.safe_load(textwrap.dedent("""
        proxy_location: HeadOnly
        http_options: {host: 127.0.0.1, port: 0, request_timeout_s: 30, keep_alive_timeout_s: 5}
        grpc_options: {port: 0, grpc_servicer_functions: []}
        logging_config: {encoding: JSON, log_level: DEBUG}
        applications:
        - name: a
          route_prefix: /a
          import_path: pkg.mod:app
          args: {model: small}
          runtime_env: {env_vars: {COLOR: blue}}
          deployments:
          - name: Model
            num_replicas: 2
            max_ongoing_requests: 3
            user_config: {k: 1}
            ray_actor_options: {num_cpus: 0.5, runtime_env: {}}
          - name: Scaled
            autoscaling_config: {min_replicas: 1, max_replicas: 4}
            request_router_config: {request_router_kwargs: {k: 1}, request_routing_stats_period_s: 5}
        - name: b
          route_prefix: null
          import_path: pkg.other.app
        """)), "serve.yaml")
    assert cfg.proxy_location == "HeadOnly"
    assert cfg.http_options == {"host": "127.0.0.1", "port": 0, "request_timeout_s": 30, "keep_alive_timeout_s": 5}
    assert cfg.logging_config["encoding"] == "JSON"
    a, b = cfg.applications
    assert (a.name, a.route_prefix, a.module, a.attr, a.args) == ("a", "/a", "pkg.mod", "app", {"model": "small"})
    assert a.runtime_env == {"env_vars": {"COLOR": "blue"}}
    assert [d.name for d in a.deployments] == ["Model", "Scaled"]
    # null/{} in ray_actor_options (as Ray's schema writes them) mean "not set"
    assert a.deployments[0].options == {"num_replicas": 2, "max_ongoing_requests": 3, "user_config": {"k": 1},
                                        "ray_actor_options": {"num_cpus": 0.5}}
    assert (b.route_prefix, b.module, b.attr) == (None, "pkg.other", "app")
    assert cfg.with_http_options(port=1234, host=None).http_options["port"] == 1234


@pytest.mark.parametrize(("data", "expected"), [
    ({"applications": [], "proxy_locaton": "x"}, "serve.yaml: unknown field 'proxy_locaton'"),
    ({"applications": [], "http_options": {"prot": 1}}, "serve.yaml: http_options: unknown field 'prot'"),
    ({"applications": [], "http_options": {"port": "x"}}, "serve.yaml: field 'http_options': http_options port"),
    (_config(route_prefx="/"), "serve.yaml: application 'a': unknown field 'route_prefx'"),
    (_config(deployments=[{"name": "D", "num_replica": 2}]),
     "serve.yaml: application 'a', deployment 'D': unknown field 'num_replica'"),
    (_config(deployments=[{"name": "D", "num_replicas": -1}]),
     "serve.yaml: application 'a', deployment 'D': num_replicas must be an int >= 0"),
    (_config(deployments=[{"name": "D", "num_replicas": 2, "autoscaling_config": {"max_replicas": 3}}]),
     "application 'a', deployment 'D': num_replicas and autoscaling_config cannot both be set"),
    (_config(deployments=[{"name": "D", "user_config": [1]}]),
     "application 'a', deployment 'D': field 'user_config' must be a mapping"),
    (_config(deployments=[{"name": "D", "ray_actor_options": {"num_cpu": 1}}]),
     "application 'a', deployment 'D': unknown ray_actor_options key(s) ['num_cpu']"),
    (_config(deployments=[{"name": "D", "request_router_config": {"request_router_clas": "m:R"}}]),
     "deployment 'D': request_router_config has unknown field(s) ['request_router_clas']"),
    (_config(deployments=[{"name": "D", "request_router_config": {"request_router_class": "no_such_module:R"}}]),
     "deployment 'D': RequestRouterConfig(request_router_class='no_such_module:R') cannot be imported"),
    (_config(deployments=[{"name": "D", "rolling_update_percentage": 10}]),
     "deployment 'D': field 'rolling_update_percentage' is not supported by streamdata"),
    (_config(deployments=[{"num_replicas": 1}]), "application 'a': deployments[0]: field 'name' is required"),
    (_config(deployments=[{"name": "D"}, {"name": "D"}]), "application 'a': deployment 'D' is listed twice"),
    (_config(import_path="no_attribute"), "application 'a': field 'import_path' 'no_attribute' must be "
                                          "'module:attribute'"),
    (_config(import_path="bad path:app"), "application 'a': field 'import_path'"),
    ({"applications": [{"name": "a"}]}, "application 'a': field 'import_path' is required"),
    (_config(route_prefix="a"), "application 'a': field 'route_prefix' must start with '/'"),
    (_config(runtime_env={"env_vars": {"N": 1}}), "application 'a': field 'runtime_env': 'env_vars' must map"),
    (_config(args=[1]), "application 'a': field 'args' must be a mapping"),
    (_config(logging_config={"level": "INFO"}), "application 'a': field 'logging_config'"),
    ({"applications": [{"name": "a", "import_path": "m:x"}, {"name": "a", "import_path": "m:y", "route_prefix": "/y"}]},
     "two applications are named 'a'"),
    ({"applications": [{"name": "a", "import_path": "m:x"}, {"name": "b", "import_path": "m:y"}]},
     "applications 'a' and 'b' both have route_prefix '/'"),
    ({"applications": "m:app"}, "field 'applications' must be a list"),
    ({"import_path": "m:app"}, "this is a single-application config"),
    ({"applications": [], "proxy_location": "Everywhere"}, "field 'proxy_location' must be one of"),
    ({"applications": [], "target_capacity": 50}, "field 'target_capacity' is not supported"),
    ([1, 2], "a serve config must be a mapping"),
])
def test_bad_configs_say_what_is_wrong_and_where(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "serve.yaml")
    assert str(info.value).startswith("serve.yaml: ")
    assert expected in str(info.value)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: cannot read the config file"):
        load_config(str(missing))
    broken = tmp_path / "broken.yaml"
    broken.write_text("applications: [\n  - name: a\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(str(broken))
    good = tmp_path / "good.yaml"
    good.write_text("applications:\n- import_path: m:app\n")
    assert load_config(str(good)).applications[0].name == "default"


def test_import_paths() -> None:
    assert split_import_path("a.b.c:d.e") == ("a.b.c", "d.e")
    assert split_import_path("a.b") == ("a", "b")
    for bad in ("", "a", "a:", ":b", "a::b", "1a:b", 3):
        with pytest.raises(ConfigError, match="must be 'module:attribute'"):
            split_import_path(bad)  # type: ignore[arg-type]


def _prepare(module: str, source: str = "cfg.yaml", **app: object):
    cfg = parse_config({"applications": [{"name": "a", "import_path": f"{module}:app", **app}]}, source)
    return prepare_application(cfg.applications[0], source)


def test_overrides_replace_the_named_deployments_options(module: str) -> None:
    app = _prepare(module, deployments=[{"name": "Greeter", "num_replicas": 3, "user_config": {"greeting": "hi"}},
                                        {"name": "Ingress", "autoscaling_config": {"min_replicas": 1,
                                                                                   "max_replicas": 2}}],
                   runtime_env={"env_vars": {"COLOR": "blue"}})
    greeter, ingress = deployments_of(app)
    assert (greeter.name, greeter.num_replicas, greeter.user_config) == ("Greeter", 3, {"greeting": "hi"})
    assert greeter.config.has_user_config
    assert ingress.config.autoscaling_config.max_replicas == 2 and ingress.max_ongoing_requests == 7
    # the application's runtime_env reaches every deployment
    assert greeter.ray_actor_options["runtime_env"] == {"env_vars": {"COLOR": "blue"}}
    assert ingress.ray_actor_options == {"num_cpus": 0, "runtime_env": {"env_vars": {"COLOR": "blue"}}}
    # the ingress is built with the overridden Greeter
    assert app.args[0].deployment is greeter


def test_num_replicas_auto_with_an_autoscaling_config(module: str) -> None:
    app = _prepare(module, deployments=[{"name": "Ingress", "num_replicas": "auto",
                                         "autoscaling_config": {"max_replicas": 5}}])
    scaling = app.deployment.config.autoscaling_config
    assert (scaling.min_replicas, scaling.max_replicas, scaling.target_ongoing_requests) == (1, 5, 2)


def test_an_unknown_deployment_name_is_an_error_naming_it(module: str) -> None:
    with pytest.raises(ConfigError) as info:
        _prepare(module, deployments=[{"name": "Greeterr", "num_replicas": 2}])
    assert str(info.value) == ("cfg.yaml: application 'a': deployment 'Greeterr' (in 'deployments') does not exist "
                               "in the application; its deployments: ['Greeter', 'Ingress']")


def test_application_builders_and_bad_import_paths(module: str) -> None:
    cfg = parse_config({"applications": [
        {"name": "b", "import_path": f"{module}:builder", "args": {"greeting": "hola"}, "route_prefix": "/b"}]}, "c")
    (_, built), = prepare_config(cfg)
    assert built.deployment.user_config == {"greeting": "hola"}
    cases = {f"{module}_missing:app": "cannot import module",
             f"{module}:nothing": f"module '{module}' has no attribute 'nothing'",
             f"{module}:two_args": "must take exactly one argument",
             f"{module}:not_an_app": "must return an application",
             f"{module}:not_bound": "names the deployment 'Greeter', not an application"}
    for path, expected in cases.items():
        cfg = parse_config({"applications": [{"name": "x", "import_path": path}]}, "c.yaml")
        with pytest.raises(ConfigError, match="c.yaml: application 'x'") as info:
            prepare_config(cfg)
        assert expected in str(info.value), (path, str(info.value))
    cfg = parse_config({"applications": [{"name": "x", "import_path": f"{module}:app", "args": {"k": "v"}}]}, "c")
    with pytest.raises(ConfigError, match="args can only be given to an application builder"):
        prepare_config(cfg)


def test_builder_args_are_validated_by_a_pydantic_annotation(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pydantic")
    name = f"cfg_test_typed_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        from pydantic import BaseModel
        from streamdata import serve

        class Args(BaseModel):
            replicas: int

        @serve.deployment(ray_actor_options={"num_cpus": 0})
        def f(x):
            return x

        def typed(args: Args):
            return f.options(num_replicas=args.replicas).bind()
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ok = parse_config({"applications": [{"import_path": f"{name}:typed", "args": {"replicas": "2"}}]}, "c")
    assert prepare_config(ok)[0][1].deployment.num_replicas == 2
    bad = parse_config({"applications": [{"import_path": f"{name}:typed", "args": {"replicas": "many"}}]}, "c")
    with pytest.raises(ConfigError, match="args do not fit Args"):
        prepare_config(bad)


def test_build_writes_each_deployments_options_and_reads_back(module: str) -> None:
    config = build_config([f"{module}:app", f"{module}:app"])
    text = dump_config(config)
    assert "\n\napplications:\n" in text  # a blank line between the top-level fields
    cfg = parse_config(yaml.safe_load(text), "built.yaml")
    assert [(a.name, a.route_prefix) for a in cfg.applications] == [("app1", "/app1"), ("app2", "/app2")]
    greeter, ingress = cfg.applications[0].deployments
    assert greeter.name == "Greeter"
    assert greeter.options == {"ray_actor_options": {"num_cpus": 0}, "user_config": {"greeting": "hello"}}
    assert ingress.options == {"ray_actor_options": {"num_cpus": 0}, "max_ongoing_requests": 7}
    assert cfg.http_options == {"host": "127.0.0.1", "port": 8000}
    assert cfg.grpc_options["grpc_servicer_functions"] == []
    with pytest.raises(ConfigError, match="build takes applications"):
        build_config([f"{module}:builder"])


def test_the_command_line() -> None:
    args = parse_command_line(["run", "cfg.yaml", "--http-host", "0.0.0.0", "--http-port", "0", "--non-blocking"])
    assert (args.host, args.port, args.blocking) == ("0.0.0.0", 0, False)
    args = parse_command_line(["build", "a:b", "c:d", "-o", "out.yaml", "--grpc-disable-reflection"])
    assert (args.import_paths, args.output_path, args.grpc_reflection) == (["a:b", "c:d"], "out.yaml", False)
    args = parse_command_line(["run", "m:app", "a=1", "--port", "0", "b=2"])
    assert (args.arguments, args.port) == (["a=1", "b=2"], 0)
    with pytest.raises(SystemExit):
        parse_command_line(["run", "m:app", "--bogus"])
    with pytest.raises(ConfigError, match="must be written key=value"):
        parse_arguments(["novalue"])
