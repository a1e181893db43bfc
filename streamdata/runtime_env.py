"""``RuntimeEnv``: Ray's typed form of a ``runtime_env`` dict (``ray.runtime_env``).

It is a dict, so it goes wherever a ``runtime_env`` dict goes (``sd.init``,
``@sd.remote``, ``.options``). The local runtime honours ``env_vars``,
``working_dir``, ``py_modules``, ``pip`` (:mod:`streamdata.core.pip_env`) and
``worker_process_setup_hook`` (:mod:`streamdata.core.setup_hook`); the other fields
(``conda``, ``uv``, ...) raise a NotImplementedError naming them when used there, and
work with ``sd.init(backend="ray")``.

Example:
    >>> from streamdata.runtime_env import RuntimeEnv
    >>> env = RuntimeEnv(env_vars={"A": "1"})
    >>> env
    {'env_vars': {'A': '1'}}
    >>> env.env_vars()
    {'A': '1'}
"""

from __future__ import annotations

from typing import Any

__all__ = ["RuntimeEnv", "RuntimeEnvConfig"]


class RuntimeEnvConfig(dict):
    """Options of how a runtime env is set up (``setup_timeout_seconds``, ``eager_install``)."""

    def __init__(self, setup_timeout_seconds: int = 600, eager_install: bool = True,
                 log_files: list[str] | None = None) -> None:
        super().__init__(setup_timeout_seconds=setup_timeout_seconds, eager_install=eager_install)
        if log_files is not None:
            self["log_files"] = list(log_files)


class RuntimeEnv(dict):
    """A runtime environment, field by field (``None`` fields are left out)."""

    def __init__(self, *, py_modules: list | None = None, working_dir: str | None = None,
                 pip: Any = None, conda: Any = None, container: dict | None = None,
                 env_vars: dict[str, str] | None = None, worker_process_setup_hook: Any = None,
                 nsight: Any = None, config: dict | RuntimeEnvConfig | None = None,
                 uv: Any = None, image_uri: str | None = None, **kwargs: Any) -> None:
        fields = {"py_modules": py_modules, "working_dir": working_dir, "pip": pip, "conda": conda,
                  "container": container, "env_vars": env_vars,
                  "worker_process_setup_hook": worker_process_setup_hook, "nsight": nsight,
                  "config": config, "uv": uv, "image_uri": image_uri, **kwargs}
        super().__init__({k: v for k, v in fields.items() if v is not None})

    def env_vars(self) -> dict[str, str]:
        return dict(self.get("env_vars") or {})

    def working_dir(self) -> str:
        return self.get("working_dir") or ""

    def py_modules(self) -> list[str]:
        return list(self.get("py_modules") or [])

    def to_dict(self) -> dict[str, Any]:
        return dict(self)
