"""A task's environment (``runtime_env``'s variables, working_dir and py_modules):
applied in the worker before the task runs, undone after it.

Example:
    >>> import os
    >>> saved = apply_task_env({"STREAMDATA_EXAMPLE_VAR": "1"})
    >>> os.environ["STREAMDATA_EXAMPLE_VAR"]
    '1'
    >>> restore_task_env(saved)
    >>> "STREAMDATA_EXAMPLE_VAR" in os.environ
    False
"""
from __future__ import annotations

import os
import sys
from typing import Any

from streamdata.core.remote_function import PY_PATHS_KEY, WORKING_DIR_KEY

_SYS_PATH, _CWD = object(), object()  # keys of what apply_task_env changed besides os.environ


def apply_task_env(env: dict | None) -> dict:
    """Apply a task's environment; returns what :func:`restore_task_env` needs to undo it."""
    if not env:
        return {}
    saved: dict[str, Any] = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    paths = [p for p in (env.get(PY_PATHS_KEY) or "").split(os.pathsep) if p and p not in sys.path]
    if paths:  # runtime_env working_dir / py_modules: importable while the task runs
        sys.path[:0] = paths
        saved[_SYS_PATH] = paths
    if env.get(WORKING_DIR_KEY):
        saved[_CWD] = os.getcwd()
        os.chdir(env[WORKING_DIR_KEY])
    return saved


def restore_task_env(saved: dict) -> None:
    """Undo what :func:`apply_task_env` did."""
    for k, v in saved.items():
        if k is _SYS_PATH:
            for path in v:
                if path in sys.path:
                    sys.path.remove(path)
        elif k is _CWD:
            os.chdir(v)
        elif v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


__all__ = ["apply_task_env", "restore_task_env"]
