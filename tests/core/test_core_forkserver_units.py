"""Pure unit tests of the fork server's policies: which workers may be forked from the
template, when a template must not fork GPU workers, and when the template ``import
streamdata`` started may serve the runtime. No process is started here."""

from __future__ import annotations

import pytest

from streamdata.core.forkserver import CUDA_MODULES, cuda_loaded, forkable_env

LIBC_MAPS = ("7f3a00000000-7f3a00028000 r--p 00000000 08:01 131 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
             "7f3a00100000-7f3a00200000 r-xp 00000000 08:01 140 /venv/lib/python3.11/site-packages/"
             "pyarrow/libarrow.so.2500\n")


@pytest.mark.parametrize("env", [None, {}, {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "0,1"}])
def test_a_worker_with_no_env_or_only_its_gpu_grant_is_forked(env) -> None:
    assert forkable_env(env)


@pytest.mark.parametrize("env", [
    {"OMP_NUM_THREADS": "1"},  # read by numpy's BLAS at import: the template imported numpy
    {"CUDA_VISIBLE_DEVICES": "0", "ARROW_DEFAULT_MEMORY_POOL": "system"},  # read by pyarrow at import
    {"SOME_USER_VAR": "x"},
])
def test_a_worker_with_other_variables_of_its_own_starts_fresh(env) -> None:
    assert not forkable_env(env)


def test_a_template_with_only_the_data_libraries_may_fork_gpu_workers() -> None:
    modules = {"numpy": None, "pyarrow": None, "pyarrow.parquet": None, "pandas": None}
    assert not cuda_loaded(modules, LIBC_MAPS)


@pytest.mark.parametrize("name", CUDA_MODULES)
def test_a_template_that_imported_a_cuda_library_forks_no_gpu_worker(name) -> None:
    assert cuda_loaded({"numpy": None, name: None}, LIBC_MAPS)


def test_a_template_with_the_cuda_driver_mapped_forks_no_gpu_worker() -> None:
    maps = LIBC_MAPS + "7f3b00000000-7f3b01000000 r-xp 00000000 08:01 150 /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
    assert cuda_loaded({"numpy": None}, maps)


def test_the_variables_init_sets_do_not_make_the_early_servers_environment_another() -> None:
    from streamdata.core import remote_function, runtime_context, session_logs
    from streamdata.core.forkserver import SESSION_KEYS, same_environment

    assert SESSION_KEYS == {session_logs.SESSION_ENV, runtime_context.NAMESPACE_ENV,
                            remote_function.JOB_RUNTIME_ENV}
    started = {"PATH": "/bin", "PYTHONPATH": "/a"}
    now = dict(started, **{key: "set by init" for key in SESSION_KEYS})
    assert same_environment(started, now)


def test_a_changed_sys_path_keeps_the_environment() -> None:
    """A script's ``sys.path.insert`` after ``import streamdata``: each forked worker
    applies the driver's path, so the server is still the one to fork them."""
    from streamdata.core.forkserver import same_environment

    started = {"PATH": "/bin", "PYTHONPATH": "/a"}
    assert same_environment(started, dict(started, PYTHONPATH="/src:/a"))
    assert same_environment(started, {"PATH": "/bin"})


@pytest.mark.parametrize("change", [{"OMP_NUM_THREADS": "1"}, {"PATH": "/usr/bin"}])
def test_any_other_change_makes_it_another_environment(change) -> None:
    from streamdata.core.forkserver import same_environment

    started = {"PATH": "/bin", "PYTHONPATH": "/a"}
    assert not same_environment(started, dict(started, **change))
