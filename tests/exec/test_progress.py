"""The progress display without processes: names, the line's format and width, and what a
terminal shows after the program's writes and the display's redraws (a small VT emulator
replays the bytes)."""

from __future__ import annotations

import io
import sys
import types

import pytest

from streamdata.exec import progress
from vt_replay import screen
from streamdata.exec.progress import OperatorProgress, ProgressBars, display_slots, format_line, unique_names


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def fresh_terminal_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own terminal line (a failed test cannot leave bars attached)."""
    monkeypatch.setattr(progress, "_TERMINAL", progress._TerminalLine())


@pytest.fixture()
def tty(monkeypatch: pytest.MonkeyPatch):
    """Puts stdout and stderr on one fake terminal (both write into the same buffer); called in
    the test itself, as pytest's own capture replaces sys.stdout/err between setup and call."""
    return lambda: _install_tty(monkeypatch)


def _install_tty(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeTTY, FakeTTY]:
    term = FakeTTY()
    out = FakeTTY()
    out.write = term.write  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(progress._TerminalLine, "width", lambda self: 100)
    return out, term


def test_unique_names_suffix_repeats() -> None:
    assert unique_names(["ReadParquet", "MapBatches(f)", "ReadParquet", "ReadParquet"]) == [
        "ReadParquet", "MapBatches(f)", "ReadParquet (2)", "ReadParquet (3)"]


def test_input_buffer_and_its_read_share_one_slot() -> None:
    names = ["ReadParquet", "ReadParquet", "ReadParquet", "ReadParquet->MapBatches(f)", "Union"]
    assert display_slots(names) == [[0, 1], [2, 3], [4]]
    bars = ProgressBars(names, enabled=False)
    assert bars.names == ["ReadParquet", "ReadParquet->MapBatches(f)", "Union"]


def test_line_never_exceeds_the_width() -> None:
    ops = [OperatorProgress(f"MapBatches(step_{i})", i, 100, "2 active, 3 queued") for i in range(30)]
    for width in (10, 40, 99, 159):
        line = format_line(ops, elapsed_s=12.3, width=width)
        assert len(line) <= width
        assert line.startswith("Running 12.3s"[:width - 3]) or width < 10


def test_unknown_totals_are_estimated_from_the_input() -> None:
    line = format_line([OperatorProgress("Read", 8, 8), OperatorProgress("Map(f)", 2)], elapsed_s=0, width=200)
    assert line == "Running 0.0s [##--------] 2/~8 | Read 8/8 > Map(f) 2/~8"


def test_terminal_success_leaves_nothing_and_prints_start_at_column_0(tty) -> None:
    out, term = tty()
    bars = ProgressBars(["ReadRange", "ReadRange->MapBatches(slow)"], enabled=True, delay_s=0)
    assert bars.enabled and isinstance(sys.stdout, progress._GuardedStream)
    bars.update(0, done=10, total=10)
    bars.update(1, done=3, total=None, status="2 active, 0 queued")
    assert screen(term.getvalue())[-1].startswith("Running ")
    print("a line the program prints while the bar is up")
    bars._last_draw = 0
    bars.update(1, done=4, total=None, status="2 active, 0 queued")
    bars.close(success=True)
    print("result:", 2000)
    assert sys.stdout is out and sys.stderr is term, "the streams were not given back"
    assert screen(term.getvalue()) == ["a line the program prints while the bar is up", "result: 2000", ""]


def test_terminal_failure_keeps_a_red_line(tty) -> None:
    out, term = tty()
    bars = ProgressBars(["ReadRange", "MapBatches(f)"], enabled=True, delay_s=0)
    bars.update(1, done=1, total=10)
    bars.close(success=False)
    sys.stderr.write("ValueError: boom\n")
    raw = term.getvalue()
    assert "\x1b[31mFailed " in raw
    shown = screen(raw)
    assert shown[0].startswith("Failed ") and "MapBatches(f) 1/10" in shown[0]
    assert shown[1:] == ["ValueError: boom", ""]


def test_partial_writes_are_not_interrupted_by_the_bar(tty) -> None:
    out, term = tty()
    bars = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    sys.stdout.write("no newline yet")
    bars._last_draw = 0
    bars.update(0, done=1, total=2)  # must not draw in the middle of the program's line
    sys.stdout.write(", now the end\n")
    bars.close(success=True)
    assert screen(term.getvalue()) == ["no newline yet, now the end", ""]


def test_two_executions_share_the_one_line(tty) -> None:
    out, term = tty()
    first = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    second = ProgressBars(["ReadCSV"], enabled=True, delay_s=0)
    first.update(0, done=1, total=4)
    second._last_draw = 0
    second.update(0, done=2, total=4)
    shown = screen(term.getvalue())
    assert len([line for line in shown if line]) == 1 and "ReadRange" in shown[-1] and "ReadCSV" in shown[-1]
    first.close(success=True)
    assert isinstance(sys.stdout, progress._GuardedStream), "still guarded while one execution runs"
    second.close(success=True)
    assert sys.stdout is out
    assert screen(term.getvalue()) == [""]


def test_short_executions_draw_nothing(tty, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]  # the display's clock, moved by the test (a loaded machine cannot age it)
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    out, term = tty()
    bars = ProgressBars(["ReadRange"], enabled=True)  # default delay: 0.3 s
    clock[0] += 0.29
    bars.update(0, done=1, total=2)
    assert term.getvalue() == ""
    clock[0] += 0.02  # past the delay: now it draws
    bars.update(0, done=2, total=2)
    assert screen(term.getvalue())[-1].startswith("Running ")
    bars.close(success=True)
    short = ProgressBars(["ReadRange"], enabled=True)
    before = term.getvalue()
    short.update(0, done=1, total=1)
    short.close(success=True)
    assert term.getvalue() == before


def test_not_a_terminal_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bars = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    assert not bars.enabled
    bars.update(0, done=1, total=1)
    bars.close(success=False)
    assert err.getvalue() == "" and sys.stderr is err


def test_a_display_whose_execution_is_gone_is_not_redrawn(tty) -> None:
    out, term = tty()
    bars = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    bars.update(0, done=1, total=4)
    bars._last_update -= 60  # nothing has updated it for a minute
    print("the program goes on")
    assert screen(term.getvalue()) == ["the program goes on", ""]


def test_reset_erases_the_line_and_gives_the_streams_back(tty) -> None:
    out, term = tty()
    bars = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    bars.update(0, done=1, total=4)
    progress._TERMINAL.reset()  # what runs at exit
    assert sys.stdout is out and sys.stderr is term
    assert screen(term.getvalue()) == [""]
    bars.close(success=True)  # the executor's close afterwards is harmless


def test_a_swapped_out_guard_stays_alive_and_passes_writes_through(tty) -> None:
    """print() keeps a borrowed reference to sys.stdout across its writes: the executor's thread
    restoring the streams mid-print must not free the guard (it crashed the interpreter)."""
    import gc
    import weakref

    out, term = tty()
    bars = ProgressBars(["ReadRange"], enabled=True, delay_s=0)
    guard = weakref.ref(sys.stdout)
    bars.update(0, done=1, total=2)
    bars.close(success=True)
    gc.collect()
    assert sys.stdout is out and guard() is not None
    guard().write("written through the old guard\n")
    assert screen(term.getvalue()) == ["written through the old guard", ""]
