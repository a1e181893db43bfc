"""``runtime_env={"worker_process_setup_hook": ...}``: a function every worker process
of the job (or of the tasks and actors given it) runs once, before their code.

The hook is a callable (pickled with cloudpickle) or the import path of one
(``"my_package.setup_logging"``). It travels in the task's environment as one variable,
:data:`SETUP_HOOK_ENV` (a function as ``func::`` and its pickle in base64, a path as
written), so it reaches the workers the way ``env_vars`` do. Each worker runs a given
hook once, before the first task or actor that names it; a hook that fails raises
:class:`~streamdata.errors.RuntimeEnvSetupError` in that task or actor, naming the hook
and carrying its traceback, and runs again for the next one. The driver does not run it
(as in Ray).

Example:
    >>> value = encode_setup_hook("gc.collect")
    >>> value
    'gc.collect'
    >>> run_setup_hook(value)  # imports gc, calls collect() once
    True
    >>> run_setup_hook(value)  # already run in this process
    False
"""

from __future__ import annotations

import base64
import importlib
import traceback
from typing import Any, Callable

from streamdata.errors import RuntimeEnvSetupError

#: the task environment variable that names the hook
SETUP_HOOK_ENV = "STREAMDATA_WORKER_PROCESS_SETUP_HOOK"
_FUNC_PREFIX = "func::"

_ran: set[str] = set()


def encode_setup_hook(hook: Any) -> str:
    """The hook as the value of :data:`SETUP_HOOK_ENV`: a callable's pickle, or an import path.

    Raises:
        TypeError: neither a callable nor a string.
        ValueError: an empty path.
    """
    if isinstance(hook, str):
        if not hook.strip():
            raise ValueError("runtime_env['worker_process_setup_hook'] is an empty string; give a callable "
                             "or an import path such as 'my_package.setup_logging'")
        return hook
    if not callable(hook):
        raise TypeError(f"runtime_env['worker_process_setup_hook'] must be a callable or an import path "
                        f"string, got {hook!r} ({type(hook).__name__})")
    import cloudpickle

    return _FUNC_PREFIX + base64.b64encode(cloudpickle.dumps(hook)).decode("ascii")


def _load(value: str) -> tuple[Callable[[], Any], str]:
    """The hook's function and a name for it in errors."""
    if value.startswith(_FUNC_PREFIX):
        import cloudpickle

        fn = cloudpickle.loads(base64.b64decode(value[len(_FUNC_PREFIX):]))
        return fn, getattr(fn, "__qualname__", repr(fn))
    module, _, name = value.rpartition(".")
    if not module:
        raise ValueError(f"{value!r} is not an import path of the form 'module.function'")
    return getattr(importlib.import_module(module), name), value


def run_setup_hook(value: str | None) -> bool:
    """Run the hook ``value`` names (:data:`SETUP_HOOK_ENV`'s value) unless this process
    already ran it; whether it ran now.

    Raises:
        RuntimeEnvSetupError: the hook could not be loaded, or it raised.
    """
    if not value or value in _ran:
        return False
    name = value if not value.startswith(_FUNC_PREFIX) else "a function"
    try:
        fn, name = _load(value)
        fn()
    except Exception as exc:  # the task or actor fails with it, naming the hook
        raise RuntimeEnvSetupError(
            f"the worker_process_setup_hook {name} of runtime_env failed in this worker: "
            f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}") from exc
    _ran.add(value)
    return True


__all__ = ["SETUP_HOOK_ENV", "encode_setup_hook", "run_setup_hook"]
