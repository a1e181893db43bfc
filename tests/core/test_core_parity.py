"""Ray Core parity on the local runtime: ObjectRef[T], generator tasks, get_runtime_context,
nodes, timeline, method options, runtime_env (job-wide, working_dir, py_modules), argument checks."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

import streamdata as sd
from streamdata.core.remote_function import runtime_env_vars
from streamdata.errors import RuntimeEnvSetupError

RUNTIME_INIT = {"num_cpus": 2, "namespace": "parity-ns", "runtime_env": {"env_vars": {"SD_JOB_VAR": "job"}},
                "include_dashboard": False, "log_to_driver": True, "logging_level": "warning",
                "configure_logging": True, "dashboard_port": 8265, "labels": {"zone": "a"}}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


def uses_generic_refs(ref: sd.ObjectRef[int]) -> sd.ObjectRef[int]:
    return ref


def test_object_ref_is_generic_in_annotations() -> None:
    assert sd.ObjectRef[int].__origin__ is sd.ObjectRef
    assert uses_generic_refs.__annotations__["ref"] == "sd.ObjectRef[int]"  # postponed, but evaluable:
    assert eval(uses_generic_refs.__annotations__["ref"], {"sd": sd}) == sd.ObjectRef[int]
    assert sd.ObjectRefGenerator[int].__origin__ is sd.ObjectRefGenerator


@sd.remote(num_returns="streaming")
def squares(n: int):
    for i in range(n):
        yield i * i


@sd.remote
def plain_generator(n: int):
    yield from range(n)


@sd.remote(num_returns="streaming")
def fails_midway():
    yield 1
    raise ValueError("generator broke")


def test_streaming_generator_task_yields_refs_in_order() -> None:
    gen = squares.remote(4)
    assert isinstance(gen, sd.ObjectRefGenerator)
    refs = list(gen)
    assert all(isinstance(r, sd.ObjectRef) for r in refs)
    assert sd.get(refs) == [0, 1, 4, 9] and gen.is_finished()
    assert [sd.get(r) for r in plain_generator.remote(3)] == [0, 1, 2]  # a generator's default


def test_generator_task_error_comes_after_its_items() -> None:
    gen = fails_midway.remote()
    assert sd.get(next(gen)) == 1
    with pytest.raises(ValueError, match="generator broke"):
        sd.get(next(gen))  # as Ray: the ref after the last item carries the error
    assert list(gen) == []


def test_an_unknown_num_returns_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="num_returns"):
        squares.options(num_returns="lots")


@sd.remote
def context_of_task() -> dict:
    ctx = sd.get_runtime_context()
    return {"task_id": ctx.get_task_id(), "actor_id": ctx.get_actor_id(), "node_id": ctx.get_node_id(),
            "job_id": ctx.get_job_id(), "namespace": ctx.namespace, "resources": ctx.get_assigned_resources(),
            "accel": ctx.get_accelerator_ids(), "name": ctx.get_task_name(),
            "job_var": os.environ.get("SD_JOB_VAR")}


@sd.remote
class Probe:
    def __init__(self) -> None:
        self.created_in = sd.get_runtime_context().get_actor_id()

    def where(self) -> dict:
        ctx = sd.get_runtime_context()
        return {"actor_id": ctx.get_actor_id(), "created_in": self.created_in, "task_id": ctx.get_task_id(),
                "reconstructed": ctx.was_current_actor_reconstructed, "job_var": os.environ.get("SD_JOB_VAR"),
                "name": ctx.get_actor_name()}

    @sd.method(num_returns=2, concurrency_group="io")
    def pair(self) -> tuple:
        return "a", "b"


def test_runtime_context_in_driver_task_and_actor() -> None:
    driver = sd.get_runtime_context()
    assert driver.get_task_id() is None and driver.get_actor_id() is None
    assert driver.namespace == "parity-ns"
    task = sd.get(context_of_task.options(num_cpus=1.5).remote(), timeout=60)
    assert task["task_id"] and task["actor_id"] is None and task["name"] == "context_of_task"
    assert task["node_id"] == driver.get_node_id() and task["job_id"] == driver.get_job_id()
    assert task["namespace"] == "parity-ns"
    assert task["resources"] == {"CPU": 1.5} and task["accel"]["GPU"] == [] and set(task["accel"]) >= {"TPU", "NPU"}
    assert task["job_var"] == "job"  # init(runtime_env=...) reaches every task
    probe = Probe.remote()
    info = sd.get(probe.where.remote(), timeout=60)
    assert info["actor_id"] and info["actor_id"] == info["created_in"] and info["task_id"]
    assert info["reconstructed"] is False and info["job_var"] == "job"
    assert info["name"] == "" and driver.get_actor_name() is None  # as Ray: "" for an unnamed actor
    named = Probe.options(name="parity-probe").remote()
    assert sd.get(named.where.remote(), timeout=60)["name"] == "parity-probe"  # its name, not its class's
    sd.kill(named)
    first, second = probe.pair.remote()
    assert sd.get([first, second], timeout=60) == ["a", "b"]


def test_nodes_is_one_alive_node_with_the_resources() -> None:
    [node] = sd.nodes()
    assert node["Alive"] and node["NodeID"] == sd.get_runtime_context().get_node_id()
    assert node["Resources"]["CPU"] == 2.0 and node["NodeManagerAddress"] == "127.0.0.1"


@sd.remote
def traced(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return x


def test_timeline_has_one_complete_event_per_task(tmp_path) -> None:
    sd.get([traced.remote(i) for i in range(3)], timeout=60)
    with pytest.raises(ValueError):
        sd.get(traced.remote(-1), timeout=60)
    path = tmp_path / "trace.json"
    assert sd.timeline(str(path)) is None
    events = [e for e in json.loads(path.read_text()) if e["name"] == "traced"]
    assert len(events) >= 4 and all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
    assert sum(not e["args"]["ok"] for e in events) >= 1
    assert all(e["tid"].startswith("worker:") for e in events)


def test_working_dir_and_py_modules_are_importable_in_tasks(tmp_path) -> None:
    work = tmp_path / "work"
    pkg = tmp_path / "mods" / "sd_parity_pkg"
    work.mkdir()
    pkg.mkdir(parents=True)
    (work / "data.txt").write_text("from working_dir")
    (work / "sd_parity_helper.py").write_text("VALUE = 41\n")
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        def plus_one(x):
            return x + 1
    """))

    @sd.remote(runtime_env={"working_dir": str(work), "py_modules": [str(pkg)]})
    def use_them() -> tuple:
        import sd_parity_helper
        import sd_parity_pkg
        with open("data.txt") as f:  # the task runs in working_dir
            text = f.read()
        return sd_parity_pkg.plus_one(sd_parity_helper.VALUE), text

    assert sd.get(use_them.remote(), timeout=60) == (42, "from working_dir")

    @sd.remote
    def cwd() -> str:
        return os.getcwd()

    assert sd.get(cwd.remote(), timeout=60) != str(work)  # restored after the task


@pytest.mark.parametrize("field", ["conda", "uv", "container"])
def test_runtime_env_fields_that_need_ray_name_the_ray_backend(field: str) -> None:
    with pytest.raises(RuntimeEnvSetupError, match=r"backend='ray'"):
        runtime_env_vars({field: ["x"]})
    ref = traced.options(runtime_env={field: ["x"]}).remote(1)  # as Ray: the task fails, not its submission
    with pytest.raises(RuntimeEnvSetupError, match=field):
        sd.get(ref, timeout=60)


def test_runtime_env_working_dir_must_exist(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="working_dir"):
        traced.options(runtime_env={"working_dir": str(tmp_path / "missing")})


def test_ray_parameter_names_of_the_core_functions() -> None:
    ref = sd.put(5)
    assert sd.get(object_refs=ref, timeout=10) == 5
    ready, rest = sd.wait(ray_waitables=[ref], num_returns=1, timeout=10)
    assert ready == [ref] and rest == []
    sd.cancel(ray_waitable=sd.put(1))


@pytest.mark.parametrize("call, pattern, exc", [
    (lambda: sd.remote(num_cpus="a")(traced._fn), r"num_cpus must be a number >= 0, got 'a' \(str\)", TypeError),
    (lambda: traced.options(num_gpus=-1), r"num_gpus must be a number >= 0, got -1", ValueError),
    (lambda: traced.options(resources={"x": "y"}), r"resources\['x'\] must be a number", TypeError),
    (lambda: traced.options(resources=[1]), r"resources must be a dict", TypeError),
    (lambda: traced.options(max_retries="3"), r"max_retries must be an int >= -1.*got '3' \(str\)", TypeError),
    (lambda: traced.options(max_retries=-2), r"max_retries must be an int >= -1", ValueError),
    (lambda: traced.options(retry_exceptions="yes"), r"retry_exceptions must be True, False or a list", TypeError),
    (lambda: Probe.options(max_restarts=1.5), r"max_restarts must be an int >= -1", TypeError),
    (lambda: Probe.options(max_concurrency=0), r"max_concurrency must be an int >= 1", ValueError),
    (lambda: sd.get(sd.put(1), timeout="x"), r"get\(timeout=...\) must be None or a number.*got 'x'", TypeError),
    (lambda: sd.get(sd.put(1), timeout=-1), r"get\(timeout=...\) must be None or a number", ValueError),
    (lambda: sd.wait([sd.put(1)], num_returns=0), r"num_returns=...\) must be an int >= 1, got 0", ValueError),
    (lambda: sd.wait([sd.put(1)], num_returns="x"), r"num_returns=...\) must be an int >= 1, got 'x'", TypeError),
    (lambda: sd.wait([sd.put(1)], num_returns=2), r"num_returns=2\) is more than the 1", ValueError),
    (lambda: sd.wait(sd.put(1)), r"expects a list of ObjectRefs, got ObjectRef", TypeError),
    (lambda: sd.wait([sd.put(1)], timeout="soon"), r"wait\(timeout=...\)", TypeError),
    (lambda: sd.cancel(sd.put(1), force="yes"), r"force must be True or False, got 'yes'", TypeError),
    (lambda: sd.put(sd.put(1)), r"put\(\) of an ObjectRef", TypeError),
])
def test_bad_arguments_name_the_argument_what_it_got_and_what_it_accepts(call, pattern, exc) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def test_init_rejects_what_ray_init_does_not_take() -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        sd.init(no_such_option=1)
