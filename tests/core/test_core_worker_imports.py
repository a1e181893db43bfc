"""A worker imports what its driver imports: the driver's ``sys.path``, not the directory the
script was started from (a process of its own per test: the driver is the test's subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import streamdata as sd

sd.init(num_cpus=1)

@sd.remote
def where():
    import streamdata
    return streamdata.__file__

@sd.remote
class Where:  # env vars of its own: a worker started fresh, not forked from the template
    def file(self):
        import streamdata
        return streamdata.__file__

actor = Where.options(runtime_env={"env_vars": {"PROBE": "1"}}).remote()
print(sd.get(where.remote()) == sd.__file__, sd.get(actor.file.remote()) == sd.__file__)
sd.shutdown()
"""


def test_a_directory_holding_another_streamdata_shadows_nothing_in_workers(tmp_path: Path) -> None:
    shadow = tmp_path / "checkout"  # the script runs from here; its streamdata must not be imported
    (shadow / "streamdata").mkdir(parents=True)
    (shadow / "streamdata" / "__init__.py").write_text("raise ImportError('the shadowing checkout')\n")
    script = tmp_path / "probe.py"
    script.write_text(_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=shadow, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "True True"
