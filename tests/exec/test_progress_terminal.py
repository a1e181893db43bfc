"""The progress line in a real terminal (a tmux pane, and a bare pseudo-terminal replayed by
vt_replay), 100 columns wide: the program's prints, the workers' forwarded output and the
results land whole, at column 0, one per line, and no progress line is left once the
executions succeed."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import termios
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from vt_replay import screen

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import time
import streamdata as sd

sd.init(num_cpus=2)

def slow(batch):
    time.sleep(0.25)
    return batch

def noisy(batch):
    print("worker says hi", flush=True)
    time.sleep(0.1)
    return batch

ds = sd.range(2000, override_num_blocks=10)
print("result:", ds.map_batches(slow).count())
for i, batch in enumerate(ds.map_batches(slow).iter_batches(batch_size=500)):
    print(f"batch {i} rows {len(batch['id'])}")
print("groups:", ds.map_batches(slow).map_batches(lambda b: {"k": b["id"] % 7}).groupby("k").count().count())
print("noisy:", ds.map_batches(noisy).count())
print("DONE")
'''

EXPECTED = [
    re.compile(r"result: 2000"),
    re.compile(r"batch \d rows 500"),
    re.compile(r"groups: 7"),
    re.compile(r"\(worker pid=\d+\) worker says hi"),
    re.compile(r"noisy: 2000"),
    re.compile(r"DONE"),
]


@pytest.fixture()
def tmux(tmp_path: Path):
    exe = shutil.which("tmux")
    if exe is None:
        pytest.skip("tmux is not installed (apt-get install tmux): the real-terminal check needs it")
    sock = f"sdprogress-{uuid.uuid4().hex[:8]}"
    yield lambda *args: subprocess.run([exe, "-L", sock, *args], capture_output=True, text=True,
                                       timeout=30)
    subprocess.run([exe, "-L", sock, "kill-server"], capture_output=True, timeout=30)


def test_progress_never_garbles_output_in_a_100_column_terminal(tmux, tmp_path: Path) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    env = f"PYTHONPATH={ROOT} STREAMDATA_PROGRESS_BARS= TERM=xterm-256color"
    cmd = f"cd {tmp_path} && env {env} {sys.executable} {script}; echo EXIT=$?; sleep 120"
    started = tmux("new-session", "-d", "-s", "main", "-x", "100", "-y", "50", cmd)
    assert started.returncode == 0, started.stderr

    def pane() -> list[str]:
        out = tmux("capture-pane", "-p", "-S", "-", "-t", "main")
        return out.stdout.splitlines()

    seen_progress = False
    deadline = time.monotonic() + 240
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = pane()
        seen_progress = seen_progress or any(line.startswith("Running ") for line in lines)
        if any(line.startswith("EXIT=") for line in lines):
            break
        time.sleep(0.1)  # polling the pane, not waiting for a condition blindly
    else:
        pytest.fail("the script did not finish in 240 s:\n" + "\n".join(lines))
    text = "\n".join(lines)
    assert "EXIT=0" in text, text
    check_screen([line for line in lines if not line.startswith("EXIT=")], seen_progress, text)


def check_screen(lines: list[str], seen_progress: bool, text: str) -> None:
    assert seen_progress, "no progress line was ever drawn: the check below would prove nothing\n" + text
    body = [line.rstrip() for line in lines if line.strip()]
    for line in body:
        assert len(line) < 100, f"a line reaches the last column (wraps): {line!r}"
        assert any(p.fullmatch(line) for p in EXPECTED), f"garbled or leftover line: {line!r}\n{text}"
    assert [line for line in body if not line.startswith("(worker")] == [
        "result: 2000", "batch 0 rows 500", "batch 1 rows 500", "batch 2 rows 500", "batch 3 rows 500",
        "groups: 7", "noisy: 2000", "DONE"], text
    assert sum(line.endswith("worker says hi") for line in body) == 10, text


def test_progress_never_garbles_output_in_a_pseudo_terminal(tmp_path: Path) -> None:
    """The same program on a bare pty (no tmux needed): its bytes replayed on a 100-column screen."""
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    env.pop("STREAMDATA_PROGRESS_BARS", None)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    raw = bytearray()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program and its workers closed the terminal
                break
            if not chunk:
                break
            raw += chunk
        else:
            pytest.fail("the script did not finish in 240 s:\n" + raw.decode(errors="replace"))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    text = raw.decode(errors="replace")
    assert proc.returncode == 0, text
    check_screen(screen(text, 100), "Running " in text, text)
