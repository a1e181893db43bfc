"""``runtime_env={"pip": [...]}`` on the local runtime: packages a job's tasks import.

Each distinct list of requirements gets one virtual environment, made once on this
machine and reused by later tasks and scripts (``<temp root>/runtime_resources/pip/<hash>``,
the temp root being ``$STREAMDATA_TEMP_DIR`` or ``<temp>/streamdata``). It sees the
driver's own packages (a ``.pth`` file lists the driver's ``site-packages``), so pip
installs only what is missing or of another version. A task that names the env runs
with the env's ``site-packages`` first on ``sys.path``.

The local runtime's workers share one Python, unlike Ray's, which start a worker per
environment. So a package the env installs must not already be imported in the worker
from elsewhere (numpy, pyarrow and pandas always are): such a task fails with a
:class:`~streamdata.errors.RuntimeEnvSetupError` naming the package. New packages, the
usual case (``{"pip": ["emoji"]}``), work; so does every env on
``sd.init(backend="ray")``.

The requirements are Ray's forms: a list of pip requirement strings, a dict with
``packages`` (and ``pip_check``, ``pip_version``, which only Ray's installer reads), or the path of a
``requirements.txt``.

Example:
    >>> pip_requirements(["emoji", "  requests>=2 "])
    ('emoji', 'requests>=2')
    >>> pip_requirements({"packages": ["emoji"], "pip_check": False})
    ('emoji',)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import site
import subprocess
import sys
from typing import Any

from streamdata.core.session_logs import default_root
from streamdata.errors import RuntimeEnvSetupError

#: the task environment variable naming the env's ``site-packages`` (the worker checks it)
PIP_ENV_KEY = "STREAMDATA_PIP_SITE_PACKAGES"
#: how long one ``pip install`` may take (``runtime_env["config"]["setup_timeout_seconds"]``)
DEFAULT_TIMEOUT_S = 600
_READY = ".streamdata-ready"


def pip_requirements(spec: Any) -> tuple[str, ...]:
    """The requirement strings of a ``runtime_env["pip"]`` value, in order."""
    if isinstance(spec, dict):
        if "packages" not in spec:
            raise TypeError(f"runtime_env['pip'] as a dict needs 'packages', got {sorted(spec)}")
        return pip_requirements(spec["packages"])
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"runtime_env['pip']: {path!r} is neither a list of packages nor a "
                                    "requirements file")
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0] for line in f]
        return tuple(line.strip() for line in lines if line.strip())
    if not isinstance(spec, (list, tuple)) or not all(isinstance(r, str) for r in spec):
        raise TypeError(f"runtime_env['pip'] must be a list of requirement strings, a dict with 'packages' "
                        f"or a requirements file's path, got {spec!r}")
    return tuple(r.strip() for r in spec if r.strip())


def env_dir(requirements: tuple[str, ...], root: str | None = None) -> str:
    """Where the env for ``requirements`` lives (one per list and Python version).

    Example:
        >>> env_dir(("emoji",), "/r") == env_dir(("emoji",), "/r") != env_dir(("six",), "/r")
        True
    """
    key = "\n".join([sys.version, sys.prefix, *requirements])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(root or os.path.join(default_root(), "runtime_resources"), "pip", digest)


def ensure_pip_env(requirements: tuple[str, ...], *, timeout_s: float = DEFAULT_TIMEOUT_S,
                   root: str | None = None) -> str:
    """The ``site-packages`` of the env for ``requirements``, made now unless a ready one
    exists (another process making it at the same time is waited for).

    Raises:
        RuntimeEnvSetupError: pip failed (its output's end is in the message) or timed out.
    """
    home = env_dir(requirements, root)
    site_dir = _site_packages(home)
    ready = os.path.join(home, _READY)
    if os.path.exists(ready):
        return site_dir
    os.makedirs(os.path.dirname(home), exist_ok=True)
    with open(home + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(ready):
            return site_dir
        shutil.rmtree(home, ignore_errors=True)  # a half-made env of a run that died
        try:
            _create(home, site_dir, requirements, timeout_s)
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise
        with open(ready, "w", encoding="utf-8") as f:
            f.write("\n".join(requirements) + "\n")
    return site_dir


def _site_packages(home: str) -> str:
    return os.path.join(home, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "site-packages")


def _create(home: str, site_dir: str, requirements: tuple[str, ...], timeout_s: float) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", home], "create its virtual environment", timeout_s)
    # the driver's packages count as installed: pip adds only what is missing
    parents = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(p)]
    with open(os.path.join(site_dir, "_streamdata_driver_site.pth"), "w", encoding="utf-8") as f:
        f.write("\n".join(parents) + "\n")
    _run([sys.executable, "-m", "pip", "--python", os.path.join(home, "bin", "python"), "install",
          "--disable-pip-version-check", "--no-input", *requirements], f"pip install {list(requirements)}",
         timeout_s)


def _run(argv: list[str], what: str, timeout_s: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeEnvSetupError(f"runtime_env pip: could not {what} within {timeout_s:g} s "
                                   "(runtime_env['config']['setup_timeout_seconds'])") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise RuntimeEnvSetupError(f"runtime_env pip: could not {what} (exit {done.returncode}):\n{tail}")


def check_not_shadowed(site_dir: str | None) -> None:
    """Raise :class:`~streamdata.errors.RuntimeEnvSetupError` when a top-level package of
    the env at ``site_dir`` is already imported in this process from elsewhere (the task
    would see the old one)."""
    if not site_dir:
        return
    for name in _top_level_names(site_dir):
        where = getattr(sys.modules.get(name), "__file__", None)
        # (a namespace package has no file: it finds the env's part of it on sys.path by itself)
        if where is not None and not os.path.abspath(where).startswith(site_dir + os.sep):
            raise RuntimeEnvSetupError(
                f"runtime_env pip installed {name!r} in {site_dir}, but this worker already imported {name!r} "
                f"from {where}; the local runtime's workers share one Python, so a pip env can add packages "
                "but not replace loaded ones: install that version in the driver's environment, or use "
                "sd.init(backend='ray')")


def _top_level_names(site_dir: str) -> list[str]:
    names = []
    for entry in os.listdir(site_dir):
        if entry.startswith(("_", ".")) or entry.endswith((".dist-info", ".egg-info", ".pth", ".data")):
            continue
        names.append(entry[:-3] if entry.endswith(".py") else entry.split(".", 1)[0])
    return names


__all__ = ["DEFAULT_TIMEOUT_S", "PIP_ENV_KEY", "check_not_shadowed", "ensure_pip_env", "env_dir",
           "pip_requirements"]
