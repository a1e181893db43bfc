"""``runtime_env={"worker_process_setup_hook": ...}`` (streamdata.core.setup_hook) and the
methods every actor has (``__ray_ready__``, ``__ray_call__``), on a real runtime."""

from __future__ import annotations

import logging
import os
import tempfile

import pytest

import streamdata as sd
from streamdata.exceptions import RuntimeEnvSetupError

#: where the hook writes its worker's pid (the workers import this module afresh: the path
#: reaches them as one of the job's variables)
_RECORD = os.path.join(tempfile.gettempdir(), f"sd-setup-hook-{os.getpid()}.pids")


def _configure_logging() -> None:
    logging.getLogger("").setLevel(logging.DEBUG)
    with open(os.environ["SD_HOOK_RECORD"], "a") as f:
        f.write(f"{os.getpid()}\n")


RUNTIME_INIT = {"num_cpus": 2, "runtime_env": {"worker_process_setup_hook": _configure_logging,
                                               "env_vars": {"SD_HOOK_JOB_VAR": "on", "SD_HOOK_RECORD": _RECORD}}}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote
def _root_level() -> tuple[str, int, str]:
    return logging.getLevelName(logging.getLogger("").getEffectiveLevel()), os.getpid(), os.environ["SD_HOOK_JOB_VAR"]


@sd.remote
class _Levels:
    def __init__(self) -> None:
        self.level = logging.getLevelName(logging.getLogger("").getEffectiveLevel())

    def level_at_start(self) -> str:
        return self.level


def test_the_jobs_hook_runs_once_in_every_worker_before_its_tasks_and_actors() -> None:
    results = sd.get([_root_level.remote() for _ in range(8)])
    assert {level for level, _, _ in results} == {"DEBUG"}
    assert {var for _, _, var in results} == {"on"}  # with the job's other fields
    assert sd.get(_Levels.remote().level_at_start.remote()) == "DEBUG"
    with open(_RECORD) as f:
        pids = [int(line) for line in f]
    assert {pid for _, pid, _ in results} <= set(pids)
    assert len(pids) == len(set(pids))  # once per worker process
    assert os.getpid() not in pids  # not in the driver (as in Ray)


@sd.remote
def _faulthandler_enabled() -> bool:
    import faulthandler

    return faulthandler.is_enabled()


def test_a_tasks_own_hook_by_import_path() -> None:
    hooked = _faulthandler_enabled.options(runtime_env={"worker_process_setup_hook": "faulthandler.enable"})
    assert sd.get(hooked.remote()) is True


def _failing_hook() -> None:
    raise ValueError("the logging server is unreachable")


def test_a_failing_hook_fails_the_task_naming_the_hook_and_its_error() -> None:
    failing = _root_level.options(runtime_env={"worker_process_setup_hook": _failing_hook})
    with pytest.raises(RuntimeEnvSetupError, match="_failing_hook.*ValueError: the logging server is unreachable"):
        sd.get(failing.remote())
    missing = _root_level.options(runtime_env={"worker_process_setup_hook": "logging.no_such_function"})
    with pytest.raises(RuntimeEnvSetupError, match="logging.no_such_function"):
        sd.get(missing.remote())
    assert sd.get(_root_level.remote())[0] == "DEBUG"  # the workers still run other tasks


def test_a_failing_hook_fails_the_actors_creation() -> None:
    actor = _Levels.options(runtime_env={"worker_process_setup_hook": _failing_hook}).remote()
    with pytest.raises(sd.exceptions.ActorError, match="unreachable"):
        sd.get(actor.level_at_start.remote())


def test_bad_hooks_are_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="worker_process_setup_hook"):
        _root_level.options(runtime_env={"worker_process_setup_hook": 5})
    with pytest.raises(ValueError, match="worker_process_setup_hook"):
        _root_level.options(runtime_env={"worker_process_setup_hook": " "})


@sd.remote
class _Counter:
    def __init__(self) -> None:
        self.value = 5


@sd.remote
class _AsyncCounter:
    def __init__(self) -> None:
        self.value = 7

    async def get(self) -> int:
        return self.value


@pytest.mark.parametrize("cls, value", [(_Counter, 5), (_AsyncCounter, 7)])
def test_every_actor_has_rays_ready_and_call_methods(cls, value) -> None:
    actor = cls.remote()
    assert sd.get(actor.__ray_ready__.remote()) is True
    assert sd.get(actor.__ray_call__.remote(lambda self, extra: self.value + extra, 10)) == value + 10
    with pytest.raises(AttributeError):
        actor.__not_a_method__  # noqa: B018 - other dunder names are not methods
