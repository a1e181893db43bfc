"""``python -m streamdata.serve`` (the ``streamdata-serve`` console script) as a real
subprocess: ``run`` an import path and a two-application config file on a free port,
query it over HTTP, stop it with SIGINT/SIGTERM (exit 0, no process left behind);
``build``'s config run back; bad configs and the cluster-only commands exit 1 saying why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

import streamdata

from _serve_util import wait_until

REPO = Path(streamdata.__file__).parent.parent
READY = "streamdata-serve: ready: "

APP_CODE = """
import os
from starlette.requests import Request
from streamdata import serve

@serve.deployment(ray_actor_options={"num_cpus": 0}, user_config={"greeting": "hello"})
class Greeter:
    def reconfigure(self, config):
        self.greeting = config["greeting"]

    def __call__(self, name):
        return {"text": f"{self.greeting} {name}", "pid": os.getpid(), "color": os.environ.get("APP_COLOR")}

@serve.deployment(ray_actor_options={"num_cpus": 0})
class Ingress:
    def __init__(self, greeter):
        self.greeter = greeter

    async def __call__(self, request: Request):
        return await self.greeter.remote(request.query_params.get("name", "you"))

app = Ingress.bind(Greeter.bind())

def builder(args):
    return Ingress.bind(Greeter.options(user_config={"greeting": args["greeting"]}).bind())
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


class ServeProcess:
    """``python -m streamdata.serve ARGS`` with its output read in a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "streamdata.serve", *args], cwd=cwd, env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 180.0) -> str:
        """The proxy's address, once the ready line is out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(READY):
                    return line[len(READY):].split(" ", 1)[0]
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"exited with {self.proc.returncode} before ready:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"not ready after {timeout} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Send ``sig``; the command must exit 0 and leave none of its processes running."""
        family = psutil.Process(self.proc.pid).children(recursive=True)
        assert family, "the runtime's workers should be child processes of the command"
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not exit after {signal.Signals(sig).name}:\n{self.output()}") from None
        self._reader.join(timeout=10)
        assert rc == 0, f"exit code {rc}:\n{self.output()}"

        def all_gone() -> bool:
            return not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

        wait_until(all_gone, timeout=30, what=lambda: f"processes left: {[p.pid for p in family if p.is_running()]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                child.kill()
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "cli_app.py").write_text(APP_CODE)
    return tmp_path


def _run_cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamdata.serve", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _get(client: httpx.Client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text)
    return response.json()


def _replica_pids(client: httpx.Client, url: str, wanted: int, timeout: float = 60.0) -> set[int]:
    """The replica pids answering ``url`` (asked until ``wanted`` were seen)."""
    pids: set[int] = set()

    def seen_enough() -> bool:
        pids.add(_get(client, url)["pid"])
        return len(pids) >= wanted

    wait_until(seen_enough, timeout=timeout, what=lambda: f"{wanted} replicas answering {url}, saw {pids}")
    return pids


def test_run_an_import_path_with_builder_args(app_dir: Path) -> None:
    serve = ServeProcess(app_dir, "run", "cli_app:builder", "greeting=hola", "--app-dir", str(app_dir),
                         "--port", "0", "--name", "greet", "--route-prefix", "/greet")
    try:
        address = serve.wait_ready()
        assert address.startswith("http://127.0.0.1:")
        assert "greet at /greet" in serve.output()
        with httpx.Client(timeout=30) as client:
            assert _get(client, f"{address}/greet?name=ana")["text"] == "hola ana"
            assert client.get(f"{address}/other").status_code == 404
        serve.stop(signal.SIGINT)
        assert "shutting down" in serve.output()
    finally:
        serve.kill()


def test_run_a_config_file_with_two_applications_and_overrides(app_dir: Path) -> None:
    config = app_dir / "serve_config.yaml"
    config.write_text(textwrap.dedent("""
        proxy_location: EveryNode
        http_options:
          host: 127.0.0.1
          port: 0
        applications:
        - name: first
          route_prefix: /first
          import_path: cli_app:app
          runtime_env:
            env_vars:
              APP_COLOR: blue
          deployments:
          - name: Greeter
            num_replicas: 2
            user_config:
              greeting: bonjour
        - name: second
          route_prefix: /second
          import_path: cli_app:builder
          args:
            greeting: hallo
        """))
    serve = ServeProcess(app_dir, "run", str(config), "--app-dir", str(app_dir))
    try:
        address = serve.wait_ready()
        assert "first at /first, second at /second" in serve.output()
        with httpx.Client(timeout=30) as client:
            first = _get(client, f"{address}/first?name=ana")
            assert (first["text"], first["color"]) == ("bonjour ana", "blue")  # user_config, runtime_env
            assert len(_replica_pids(client, f"{address}/first", wanted=2)) == 2  # num_replicas: 2
            second = _get(client, f"{address}/second?name=bo")
            assert (second["text"], second["color"]) == ("hallo bo", None)  # builder args; no runtime_env
        serve.stop(signal.SIGINT)
    finally:
        serve.kill()


def test_build_output_runs(app_dir: Path) -> None:
    out = app_dir / "built.yaml"
    built = _run_cli(app_dir, "build", "cli_app:app", "--app-dir", str(app_dir), "-o", str(out))
    assert built.returncode == 0, built.stderr
    text = out.read_text()
    assert "import_path: cli_app:app" in text and "greeting: hello" in text
    stdout = _run_cli(app_dir, "build", "cli_app:app", "--app-dir", str(app_dir))
    assert stdout.returncode == 0 and stdout.stdout == text
    # the file says port 8000: --port overrides the config's http_options
    serve = ServeProcess(app_dir, "run", str(out), "--app-dir", str(app_dir), "--port", "0")
    try:
        address = serve.wait_ready()
        assert "app1 at /" in serve.output()
        with httpx.Client(timeout=30) as client:
            assert _get(client, f"{address}/?name=zoe")["text"] == "hello zoe"
        serve.stop(signal.SIGTERM)
    finally:
        serve.kill()


@pytest.mark.parametrize(("config", "expected"), [
    ("applications:\n- name: a\n  import_path: cli_app:app\n  deployments:\n  - name: Greetr\n    num_replicas: 2\n",
     "application 'a': deployment 'Greetr' (in 'deployments') does not exist in the application; its deployments: "
     "['Greeter', 'Ingress']"),
    ("applications:\n- name: a\n  import_path: no_such_module:app\n",
     "application 'a': import_path 'no_such_module:app': cannot import module 'no_such_module'"),
    ("applications:\n- name: a\n  import_path: cli_app\n", "application 'a': field 'import_path' 'cli_app' must be"),
    ("applications:\n- name: a\n  import_path: cli_app:app\n  deployments:\n  - name: Greeter\n    replicas: 2\n",
     "application 'a', deployment 'Greeter': unknown field 'replicas'"),
])
def test_bad_configs_exit_1_naming_the_file_application_and_field(app_dir: Path, config: str,
                                                                  expected: str) -> None:
    path = app_dir / "bad.yaml"
    path.write_text(config)
    result = _run_cli(app_dir, "run", str(path), "--app-dir", str(app_dir), "--port", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"streamdata-serve run: error: {path}: " in result.stderr
    assert expected in result.stderr, result.stderr
    assert READY not in result.stdout


def test_bad_import_path_and_cluster_commands(app_dir: Path) -> None:
    result = _run_cli(app_dir, "run", "cli_app:missing", "--app-dir", str(app_dir), "--port", "0")
    assert result.returncode == 1
    assert "import_path 'cli_app:missing': module 'cli_app' has no attribute 'missing'" in result.stderr
    for command in ("status", "deploy", "shutdown"):
        result = _run_cli(app_dir, command)
        assert result.returncode == 1
        assert f"streamdata-serve {command}: not supported" in result.stderr
        assert "streamdata-serve run" in result.stderr


def test_the_console_script_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(REPO / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts == {"streamdata-serve": "streamdata.serve.cli:main"}  # not `serve`: Ray's CLI keeps its name
