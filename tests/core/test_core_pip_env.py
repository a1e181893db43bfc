"""``runtime_env={"pip": [...]}`` on the local runtime (streamdata.core.pip_env).

The packages are tiny wheels each test writes (pip installs them with no index and no
build), into envs under the test's own temp root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import streamdata as sd
from streamdata.core import pip_env
from streamdata.core.pip_env import ensure_pip_env, env_dir, pip_requirements
from streamdata.errors import RuntimeEnvSetupError

pytestmark = [pytest.mark.timeout(240)]

RUNTIME_INIT = {"num_cpus": 1}  # one worker: the conflict test needs both tasks in the same process


def project(root: Path, name: str, version: str, greeting: str, dependencies: tuple[str, ...] = ()) -> str:
    """A wheel of a package ``name`` whose ``hello()`` returns ``greeting`` (written here:
    pip installs it with no index and no build)."""
    files = {
        f"{name}/__init__.py": f"def hello():\n    return {greeting!r}\n",
        f"{name}-{version}.dist-info/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {d}\n" for d in dependencies),
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n",
    }
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join([*record, f"{name}-{version}.dist-info/RECORD,,"]) + "\n"
    wheel = root / version / f"{name}-{version}-py3-none-any.whl"
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return str(wheel)


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sdroot"
    monkeypatch.setenv("STREAMDATA_TEMP_DIR", str(root))
    return root


def test_the_forms_ray_takes(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("emoji==2.0  # pinned\n\n  six\n")
    assert pip_requirements(str(reqs)) == ("emoji==2.0", "six")
    assert pip_requirements({"packages": ["emoji"], "pip_version": "==23.0"}) == ("emoji",)
    assert pip_requirements(["emoji", " "]) == ("emoji",)


@pytest.mark.parametrize("bad, error, match", [
    ("no/such/requirements.txt", FileNotFoundError, "requirements file"),
    ({"pip_check": False}, TypeError, "'packages'"),
    ([1, 2], TypeError, r"runtime_env\['pip'\]"),
])
def test_bad_requirements_name_the_field(bad: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        pip_requirements(bad)


def test_an_env_is_made_once_and_reused(tmp_path: Path, temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = (project(tmp_path, "sdpipone", "1.0", "one", dependencies=("numpy", "pyarrow")),)
    site_dir = ensure_pip_env(requirements)
    assert site_dir.startswith(str(temp_root)) and (Path(site_dir) / "sdpipone" / "__init__.py").exists()
    # its dependencies are the driver's: installed there, so pip added nothing of them
    assert not any(Path(site_dir).glob("numpy*")) and not any(Path(site_dir).glob("pyarrow*"))

    def no_second_install(*args: object) -> None:
        raise AssertionError("the ready env was made again")

    monkeypatch.setattr(pip_env, "_create", no_second_install)
    assert ensure_pip_env(requirements) == site_dir


def test_a_failed_install_says_why_and_leaves_nothing_half_made(tmp_path: Path, temp_root: Path) -> None:
    requirements = (str(tmp_path / "not-a-project-1.0-py3-none-any.whl"),)
    with pytest.raises(RuntimeEnvSetupError, match="could not pip install") as info:
        ensure_pip_env(requirements)
    assert "not-a-project" in str(info.value)
    assert not os.path.exists(env_dir(requirements))


def test_tasks_and_data_udfs_import_the_envs_packages(runtime: object, tmp_path: Path, temp_root: Path) -> None:
    env = {"pip": [project(tmp_path, "sdpiptask", "1.0", "from the env")]}

    @sd.remote(runtime_env=env)
    def greet() -> str:
        import sdpiptask

        return sdpiptask.hello()

    assert sd.get(greet.remote(), timeout=60) == "from the env"
    with pytest.raises(ImportError):  # the driver's own environment is unchanged, as on Ray
        __import__("sdpiptask")
    rows = sd.data.range(2).map(lambda row: {"g": __import__("sdpiptask").hello()}, runtime_env=env).take_all()
    assert rows == [{"g": "from the env"}] * 2


def test_an_env_cannot_replace_a_package_the_worker_imported(runtime: object, tmp_path: Path,
                                                              temp_root: Path) -> None:
    def version_task(env: dict) -> object:
        @sd.remote(runtime_env=env)
        def hello() -> str:
            import sdpipclash

            return sdpipclash.hello()

        return hello.remote()

    old = {"pip": [project(tmp_path, "sdpipclash", "1.0", "old")]}
    new = {"pip": [project(tmp_path, "sdpipclash", "2.0", "new")]}
    assert sd.get(version_task(old), timeout=60) == "old"
    with pytest.raises(RuntimeEnvSetupError, match="already imported 'sdpipclash'"):
        sd.get(version_task(new), timeout=60)


def test_the_jobs_env_reaches_every_task(tmp_path: Path, temp_root: Path) -> None:
    script = (
        "import json, streamdata as sd\n"
        f"sd.init(num_cpus=1, runtime_env={{'pip': [{project(tmp_path, 'sdpipjob', '1.0', 'job')!r}]}})\n"
        "@sd.remote\n"
        "def greet():\n"
        "    import sdpipjob\n"
        "    return sdpipjob.hello()\n"
        "print(json.dumps(sd.get(greet.remote())))\n"
        "sd.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True,
                         env={**os.environ, "STREAMDATA_TEMP_DIR": str(temp_root)})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == "job"


def test_a_definition_installs_at_its_first_submission_not_before(runtime: object, tmp_path: Path,
                                                                    temp_root: Path) -> None:
    missing = {"pip": [str(tmp_path / "absent-1.0-py3-none-any.whl")]}

    @sd.remote(runtime_env=missing)  # defining it installs nothing (it may be meant for a Ray cluster)
    def task() -> None:
        pass

    @sd.remote(runtime_env=missing)
    class Actor:
        pass

    assert not (temp_root / "runtime_resources").exists()
    ref = task.remote()  # as on Ray, the install fails the task (at get), not its submission
    with pytest.raises(RuntimeEnvSetupError, match="absent-1.0"):
        sd.get(ref, timeout=120)
    actor = Actor.remote()
    with pytest.raises(RuntimeEnvSetupError, match="absent-1.0"):
        sd.get(actor.__ray_ready__.remote(), timeout=120)
