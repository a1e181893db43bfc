"""``streamdata.util.state``'s jobs and logs: the driver's session as the one job, and the
session's log files listed, and read by name, pid, actor or task, tailed and followed."""

from __future__ import annotations

import os
import sys

import pytest

import streamdata as sd
from _obs_util import wait_until
from streamdata.util import state

RUNTIME_INIT = {"num_cpus": 2, "runtime_env": {"env_vars": {"STATE_JOBS_TEST": "1"}}}


@sd.remote
def shout(word: str) -> int:
    print(f"task says {word}", flush=True)
    return os.getpid()


@sd.remote
class Talker:
    def say(self, word: str) -> int:
        print(f"actor says {word}", flush=True)
        return os.getpid()


def _logged(predicate_text: str, **where: object) -> bool:
    try:
        return any(predicate_text in line for line in state.get_log(**where))
    except state.RayStateApiException:
        return False  # the worker's file is not there yet


def test_the_driver_session_is_the_one_running_job(runtime: object) -> None:
    jobs = state.list_jobs()
    assert len(jobs) == 1
    job = jobs[0]
    assert job.job_id == sd.get_runtime_context().get_job_id() and job.type == "DRIVER"
    assert job.status == "RUNNING" and job.runtime_env == {"env_vars": {"STATE_JOBS_TEST": "1"}}
    assert sys.argv[0] in job.entrypoint and job.driver_info["pid"] == str(os.getpid())
    assert state.get_job(job.job_id).job_id == job.job_id and state.get_job("nope") is None
    assert state.list_jobs(filters=[("status", "=", "FAILED")]) == []


def test_worker_logs_by_pid_actor_and_task(runtime: object) -> None:
    pid = sd.get(shout.remote("hello"))
    wait_until(lambda: _logged("task says hello", pid=pid))
    task_id = next(t.task_id for t in state.list_tasks(filters=[("name", "=", "shout")]))
    assert any("task says hello" in line for line in state.get_log(task_id=task_id))
    talker = Talker.remote()
    actor_pid = sd.get(talker.say.remote("hi"))
    actor_id = next(a.actor_id for a in state.list_actors(filters=[("class_name", "=", "Talker")]))
    wait_until(lambda: _logged("actor says hi", actor_id=actor_id))
    groups = state.list_logs()
    names = [n for group in groups.values() for n in group]
    assert any(n.endswith(f"-{actor_pid}.out") for n in groups["worker_out"])
    assert state.list_logs(glob_filter="*.err") == {"worker_err": [n for n in names if n.endswith(".err")]}


def test_tail_and_follow_read_a_file_by_name(runtime: object) -> None:
    talker = Talker.remote()
    pid = sd.get(talker.say.remote("first"))
    wait_until(lambda: _logged("actor says first", pid=pid))
    name = next(n for n in state.list_logs()["worker_out"] if n.endswith(f"-{pid}.out"))
    assert list(state.get_log(filename=name, tail=1))[-1].strip().endswith("first")
    follow = state.get_log(filename=name, tail=0, follow=True, _interval=0.01)
    sd.get(talker.say.remote("second"))
    try:
        assert "actor says second" in next(follow)  # follow waits for the line the actor writes
    finally:
        follow.close()


def test_unknown_files_and_ids_say_so(runtime: object) -> None:
    with pytest.raises(state.RayStateApiException, match="no log file 'nope.log'"):
        list(state.get_log(filename="nope.log"))
    with pytest.raises(state.RayStateApiException, match="no actor 'ffff'"):
        list(state.get_log(actor_id="ffff"))
    with pytest.raises(ValueError, match="filename, pid, actor_id or task_id"):
        list(state.get_log())
    with pytest.raises(ValueError, match="suffix"):
        list(state.get_log(pid=1, suffix="log"))
