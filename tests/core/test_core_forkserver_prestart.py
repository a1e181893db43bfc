"""The template that ``import streamdata`` starts early, and ``sd.init`` adopts.

Each test runs a fresh interpreter (the test process imported streamdata long ago), and
follows the template's process with psutil: adopted when the environment is still the one
it started with, told to exit otherwise, and never left behind by a script that does not
call ``sd.init``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest
from _core_util import wait_for

from streamdata.core import forkserver

pytestmark = [pytest.mark.timeout(120)]

SCRIPT = """
import json, os, sys
import streamdata as sd
from streamdata.core import api, forkserver
early = forkserver._early[0].pid if forkserver._early else None
{between}
sd.init(num_cpus=1)
@sd.remote
def where():
    from streamdata.core import forkserver
    return os.getppid(), forkserver._early is None
parent, no_early_in_worker = sd.get(where.remote())
{after}
print(json.dumps({{"early": early, "server": api._runtime.forkserver.proc.pid, "worker_parent": parent,
                  "no_early_in_worker": no_early_in_worker}}))
sd.shutdown()
"""


def run(between: str = "", after: str = "", **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(between=between, after=after)], capture_output=True,
                         text=True, timeout=90, env={**os.environ, **env}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_init_adopts_the_template_the_import_started() -> None:
    seen = run()
    assert seen["early"] is not None
    assert seen["server"] == seen["early"] == seen["worker_parent"]
    assert seen["no_early_in_worker"]  # a worker's own import starts no template


def test_a_template_started_with_another_environment_is_not_adopted_and_exits() -> None:
    seen = run(between="os.environ['STREAMDATA_TEST_CHANGED'] = '1'")
    assert seen["early"] is not None and seen["server"] != seen["early"]
    assert seen["worker_parent"] == seen["server"]
    wait_for(lambda: not psutil.pid_exists(seen["early"])
             or psutil.Process(seen["early"]).status() == psutil.STATUS_ZOMBIE,
             what="the template that was not adopted to exit")


def test_a_script_that_extends_sys_path_keeps_the_template_and_its_workers_import_from_there(
        tmp_path) -> None:
    (tmp_path / "script_local_module.py").write_text("VALUE = 42\n")
    seen = run(between=f"sys.path.insert(0, {str(tmp_path)!r})",
               after="@sd.remote\n"
                     "def value():\n"
                     "    import script_local_module\n"
                     "    return script_local_module.VALUE\n"
                     "assert sd.get(value.remote()) == 42, 'the worker imports the module'")
    assert seen["early"] is not None
    assert seen["server"] == seen["early"] == seen["worker_parent"]


def test_the_switch_turns_the_early_start_off() -> None:
    seen = run(STREAMDATA_PRESTART="0")
    assert seen["early"] is None and seen["server"] == seen["worker_parent"]


def test_a_script_that_never_inits_leaves_no_template_behind() -> None:
    out = subprocess.run([sys.executable, "-c", "import streamdata; from streamdata.core import forkserver; "
                          "print(forkserver._early[0].pid)"], capture_output=True, text=True, timeout=60,
                         check=True)
    pid = int(out.stdout.strip())
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             what="the unadopted template to exit with its driver")


def test_a_template_nobody_adopts_exits_after_its_time() -> None:
    proc, sock = forkserver.start_server(forkserver.worker_env(), adopt_within_s=0.2)
    try:
        assert proc.wait(timeout=60) == 0
    finally:
        sock.close()


GC_SCRIPT = """
import gc, json
{before}
import streamdata as sd
after_import = gc.isenabled()
sd.init(num_cpus=1)
@sd.remote
def worker_gc():
    import gc
    return gc.isenabled()
print(json.dumps({{"driver": after_import, "worker": sd.get(worker_gc.remote())}}))
sd.shutdown()
"""


@pytest.mark.parametrize("before, driver", [("", True), ("gc.disable()", False)])
def test_the_collector_paused_for_the_imports_is_back_as_it_was(before: str, driver: bool) -> None:
    """``import streamdata`` and the template pause the garbage collector while they import;
    the driver's collector ends as the script had it, and every worker's is on."""
    out = subprocess.run([sys.executable, "-c", GC_SCRIPT.format(before=before)], capture_output=True,
                         text=True, timeout=90, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"driver": driver, "worker": True}
