"""The example notebooks run top to bottom in a real Jupyter kernel (nbclient + ipykernel), as CI
runs them: no cell errors, and no progress display is left in any output once its cells succeed
(while the cells run it is shown, which the test checks too, so the check can fail)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from _session_logs import not_session_log

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
PROGRESS_MARK = "streamdata-progress"  # the class of the progress display's HTML


class RecordingClient(nbclient.NotebookClient):
    """Keeps every progress display message the kernel sent, to prove one was shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress_messages: list[dict] = []

    def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
        data = msg.get("content", {}).get("data", {})
        if PROGRESS_MARK in str(data.get("text/html", "")):
            self.progress_messages.append(msg)
        return super().process_message(msg, cell, cell_index)


def _leftover_progress(output: Any) -> str | None:
    """What looks like a progress display in one cell output, or None."""
    if output.get("output_type") in ("display_data", "execute_result", "update_display_data"):
        data = output.get("data", {})
        if PROGRESS_MARK in str(data.get("text/html", "")) or str(data.get("text/plain", "")).startswith(
                ("Running ", "Failed ")):
            return str(data.get("text/plain", data))
        if "application/vnd.jupyter.widget-view+json" in data:
            return "a widget (tqdm.notebook bar)"
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        if "\r" in text or "%|" in text or "Running " in text:
            return text
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])

def test_notebook_runs_clean(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel is a child process: it gets this checkout's code and this interpreter
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    monkeypatch.delenv("STREAMDATA_PROGRESS_BARS", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    client = RecordingClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                             resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    errors = [(i, o.get("ename"), o.get("evalue")) for i, cell in enumerate(nb.cells)
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: cells raised {errors}"
    leftovers = [(i, found) for i, cell in enumerate(nb.cells) for o in cell.get("outputs", [])
                 if (found := _leftover_progress(o)) is not None]
    assert not leftovers, f"{path.name}: progress left in the outputs: {leftovers}"
    assert client.progress_messages, f"{path.name}: no progress display was ever shown (check proves nothing)"
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if not p.relative_to(tmp_path).parts[0].startswith((".", "torchinductor_"))  # torch's cache
                  and not_session_log(p.relative_to(tmp_path)))
    assert left == [], f"{path.name} left files in the temp folder: {left[:10]}"


def test_progress_in_a_kernel_clears_on_success_and_stays_red_on_failure(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    monkeypatch.delenv("STREAMDATA_PROGRESS_BARS", raising=False)
    cells = [
        "from streamdata.exec.progress import ProgressBars\n"
        "ok = ProgressBars(['ReadRange', 'MapBatches(f)'], enabled=True, delay_s=0)\n"
        "ok.update(1, done=2, total=4)\n"
        "ok.close(success=True)\n"
        "print('after success')",
        "bad = ProgressBars(['ReadRange', 'MapBatches(f)'], enabled=True, delay_s=0)\n"
        "bad.update(1, done=1, total=4)\n"
        "bad.close(success=False)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = RecordingClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert len(client.progress_messages) >= 3, "the displays were not drawn"
    success, failure = nb.cells[0].outputs, nb.cells[1].outputs
    assert [_leftover_progress(o) for o in success] == [None, None], success
    assert any(o.get("output_type") == "stream" and o["text"] == "after success\n" for o in success)
    shown = [o for o in failure if PROGRESS_MARK in str(o.get("data", {}).get("text/html", ""))]
    assert len(shown) == 1, failure
    assert shown[0]["data"]["text/plain"].startswith("Failed ") and "MapBatches(f) 1/4" in shown[0]["data"]["text/plain"]
    assert "#d62728" in shown[0]["data"]["text/html"]  # red
