"""``streamdata-serve`` (also ``python -m streamdata.serve``): Ray Serve's ``serve`` CLI on one machine.

Commands:
    run    an application (``module:app [key=value ...]``) or a config file
           (``config.yaml``): start serve, deploy, print where it listens, then serve
           until Ctrl-C or SIGTERM, shut down cleanly and exit 0.
    build  import paths -> a config file (YAML on stdout, or ``-o FILE``) that ``run`` reads.

``deploy``, ``status``, ``config`` and ``shutdown`` talk to a long-running Ray cluster in
Ray; streamdata's runtime lives inside the ``run`` process, so there is nothing for them
to reach: they exit 1 saying so (use ``serve.status()`` inside the program, or the
dashboard, instead).

Example:
    >>> args = parse_command_line(["run", "my_app:app", "--port", "0", "model=small"])
    >>> args.target, args.port, args.arguments, args.blocking
    ('my_app:app', 0, ['model=small'], True)
    >>> parse_arguments(["model=small", "n=3"])
    {'model': 'small', 'n': '3'}
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, Sequence

from streamdata.serve.config_file import ConfigError, ServeConfig, load_config, parse_config

PROG = "streamdata-serve"
#: the line ``run`` prints once every application runs (tests and scripts wait for it)
READY = "streamdata-serve: ready"
_CLUSTER_COMMANDS = {
    "deploy": "deploys a config to a running Ray cluster",
    "status": "reads the status of a running Ray cluster's applications",
    "config": "reads the configs deployed to a running Ray cluster",
    "shutdown": "shuts serve down on a running Ray cluster",
    "start": "starts serve on a running Ray cluster",
}


class _Stop(Exception):
    """SIGTERM, raised in the main thread so that ``run`` shuts down as on Ctrl-C."""


def parse_arguments(items: Sequence[str]) -> dict[str, str]:
    """``key=value`` words (an application builder's args) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"application argument {item!r} must be written key=value")
        if key in out:
            raise ConfigError(f"application argument {key!r} is given twice")
        out[key] = value
    return out


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Ray Serve's `serve` CLI for streamdata (one machine).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run an application (module:app) or a config file until Ctrl-C")
    run.add_argument("target", metavar="CONFIG_OR_IMPORT_PATH")
    run.add_argument("arguments", nargs="*", metavar="KEY=VALUE", help="arguments of an application builder")
    run.add_argument("--app-dir", "-d", default=".", help="directory the import paths are imported from")
    run.add_argument("--host", "--http-host", dest="host", default=None,
                     help="the HTTP proxy's host (default 127.0.0.1, or the config's)")
    run.add_argument("--port", "--http-port", dest="port", type=int, default=None,
                     help="the HTTP proxy's port (default 8000, or the config's; 0: a free port)")
    run.add_argument("--name", default="default", help="the application's name (import paths only)")
    run.add_argument("--route-prefix", default="/", help="the application's route prefix (import paths only)")
    run.add_argument("--blocking", dest="blocking", action="store_true", default=True,
                     help="serve until Ctrl-C (the default)")
    run.add_argument("--non-blocking", dest="blocking", action="store_false",
                     help="deploy, report, then shut down and exit (nothing outlives the process here)")
    run.add_argument("--address", "-a", default=None, help="accepted for Ray's CLI; only 'local'/'auto' work here")
    run.add_argument("--runtime-env", default=None, help="a YAML file with the default runtime_env")
    run.add_argument("--runtime-env-json", default=None, help="the default runtime_env as JSON")
    run.add_argument("--working-dir", default=None, help="the default runtime_env's working_dir")
    run.add_argument("--reload", "-r", action="store_true", help="not supported by streamdata")
    build = commands.add_parser("build", help="write a config file for import paths")
    build.add_argument("import_paths", nargs="+", metavar="IMPORT_PATH")
    build.add_argument("--app-dir", "-d", default=".", help="directory the import paths are imported from")
    build.add_argument("--output-path", "-o", default=None, help="write the YAML here (default: stdout)")
    build.add_argument("--grpc-servicer-functions", action="append", default=[],
                       help="a gRPC servicer function's import path (repeatable)")
    build.add_argument("--grpc-enable-reflection", dest="grpc_reflection", action="store_true", default=True)
    build.add_argument("--grpc-disable-reflection", dest="grpc_reflection", action="store_false")
    for name, what in _CLUSTER_COMMANDS.items():
        cmd = commands.add_parser(name, help=f"not supported: {what}")
        cmd.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` as ``run``/``build``/... arguments (``run``'s ``key=value`` words may follow its options)."""
    parser = make_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "run":
        args.arguments += [e for e in extra if "=" in e and not e.startswith("-")]
        extra = [e for e in extra if e not in args.arguments]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _runtime_env(args: argparse.Namespace) -> dict[str, Any]:
    env: dict[str, Any] = {}
    if args.runtime_env:
        import yaml

        with open(args.runtime_env, encoding="utf-8") as f:
            env = yaml.safe_load(f) or {}
        if not isinstance(env, dict):
            raise ConfigError(f"{args.runtime_env}: a runtime_env must be a mapping, got {type(env).__name__}")
    if args.runtime_env_json:
        try:
            env = json.loads(args.runtime_env_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--runtime-env-json: not valid JSON: {exc}") from None
        if not isinstance(env, dict):
            raise ConfigError("--runtime-env-json must be a JSON object")
    if args.working_dir:
        env["working_dir"] = args.working_dir
    return env


def _config_for(args: argparse.Namespace) -> ServeConfig:
    """The run's applications as a config: the file's, or one application of an import path."""
    if os.path.isfile(args.target):
        if args.arguments:
            print(f"{PROG}: application arguments are ignored when running a config file", file=sys.stderr)
        config = load_config(args.target)
        if not config.applications:
            raise ConfigError(f"{args.target}: field 'applications' is empty: nothing to run")
        return config.with_http_options(host=args.host, port=args.port)
    if args.target.endswith((".yaml", ".yml", ".json")):
        raise ConfigError(f"config file {args.target!r} does not exist")
    app = {"name": args.name, "import_path": args.target, "route_prefix": args.route_prefix,
           "args": parse_arguments(args.arguments)}
    http = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return parse_config({"http_options": http, "applications": [app]}, "command line")


def _serve_forever() -> None:
    while True:
        time.sleep(0.5)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Stop()


def cmd_run(args: argparse.Namespace) -> int:
    from streamdata.serve import api as serve
    from streamdata.serve._runtime import runtime
    from streamdata.serve.config_apply import deploy_config, prepare_config

    if args.reload:
        raise ConfigError("--reload is not supported by streamdata; restart the command after a change")
    if args.address not in (None, "local", "auto"):
        raise ConfigError(f"--address {args.address!r}: streamdata runs serve inside this process; to deploy "
                          "to a Ray cluster, use Ray's own `serve` CLI")
    if args.route_prefix is not None and args.route_prefix.lower() in ("none", "null"):
        args.route_prefix = None
    sys.path.insert(0, os.path.abspath(args.app_dir))
    config = _config_for(args)
    prepared = prepare_config(config)  # the applications' code, imported before anything starts
    env = _runtime_env(args)
    sd = runtime()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    previous_int = signal.getsignal(signal.SIGINT)
    try:
        try:
            if not sd.is_initialized():
                sd.init(runtime_env=env or None)
            apps = deploy_config(config, prepared)
            address = serve.http_address()
            routes = ", ".join(f"{name} at {prefix if prefix is not None else '(no route)'}" for name, prefix in apps)
            print(f"{READY}: {address or 'no HTTP proxy'} ({routes})", flush=True)
            if args.blocking:
                _serve_forever()
        except (KeyboardInterrupt, _Stop):
            print(f"{PROG}: shutting down", flush=True)
        finally:
            # a second Ctrl-C (a terminal sends one to the whole process group) must not cut the
            # shutdown short and leave replicas behind
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            serve.shutdown()
            if sd.is_initialized():
                sd.shutdown()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from streamdata.serve.config_apply import build_config, dump_config

    sys.path.insert(0, os.path.abspath(args.app_dir))
    config = build_config(args.import_paths, args.grpc_servicer_functions, args.grpc_reflection)
    text = dump_config(config, f"# Written by `{PROG} build` (streamdata {_version()}); "
                               f"run it with `{PROG} run FILE`.\n\n")
    if args.output_path:
        with open(args.output_path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _version() -> str:
    return str(getattr(sys.modules.get("streamdata"), "__version__", "?"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(argv)
    if args.command in _CLUSTER_COMMANDS:
        print(f"{PROG} {args.command}: not supported. Ray's `serve {args.command}` "
              f"{_CLUSTER_COMMANDS[args.command]}; streamdata's runtime lives inside the `{PROG} run` process, so "
              f"there is no running cluster to reach. Use `{PROG} run` (a config file or an import path), and "
              "serve.status() or the dashboard from inside the program.", file=sys.stderr)
        return 1
    try:
        return cmd_run(args) if args.command == "run" else cmd_build(args)
    except ConfigError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - e.g. a deployment whose constructor fails
        traceback.print_exc()
        print(f"{PROG} {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


__all__ = ["READY", "main", "make_parser", "parse_arguments", "parse_command_line"]
