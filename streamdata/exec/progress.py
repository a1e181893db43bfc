"""Progress display of an execution: one line in a terminal, one output in a notebook.

The executor makes one :class:`ProgressBars` per execution, feeds it each operator's
counts from its loop, and closes it at the end. What the user sees:

* **Terminal** (stderr is a TTY): a single line, never wider than the terminal, listing
  the operators with their progress. While it is shown, whatever the program writes to
  ``sys.stdout``/``sys.stderr`` (its own prints, the workers' forwarded output) first
  erases the line, is written from column 0, and the line is redrawn below it, so the
  two never mix. On success the line is erased: nothing is left behind. On failure it
  stays, in red, above the error.
* **Jupyter** (inside an IPython kernel): one HTML output, updated in place; cleared on
  success, kept in red on failure.
* Anywhere else (pipes, log files, ``DataContext.enable_progress_bars = False``): nothing.

Nothing is drawn for executions shorter than ``delay_s`` (0.3 s), so quick metadata
passes leave no trace at all. Operator names are made unique for display: an input
buffer and the operator it feeds share a name and are shown once; other repeats get a
suffix (``ReadParquet``, ``ReadParquet (2)``).

Example:
    >>> bars = ProgressBars(["ReadRange", "MapBatches(f)"], enabled=False)
    >>> bars.update(0, done=3, total=10, status="2 active"); bars.close(success=True)
    >>> unique_names(["ReadParquet", "ReadParquet", "ReadParquet", "Union"])
    ['ReadParquet', 'ReadParquet (2)', 'ReadParquet (3)', 'Union']
    >>> format_line([OperatorProgress("ReadRange", 10, 10), OperatorProgress("Map(f)", 4, 10, "2 active")],
    ...             elapsed_s=1.5, width=80)
    'Running 1.5s [####------] 4/10 | ReadRange 10/10 > Map(f) 4/10 2 active'
"""

from __future__ import annotations

import atexit
import html
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

_ERASE = "\r\x1b[K"
_RED = "\x1b[31m"
_RESET = "\x1b[0m"


@dataclass(frozen=True)
class OperatorProgress:
    """What one display slot shows: an operator's name, outputs done, expected total, status."""

    name: str
    done: int = 0
    total: int | None = None
    status: str = ""


def unique_names(names: Sequence[str]) -> list[str]:
    """Suffix repeated names with `` (2)``, `` (3)``... so each operator is told apart.

    >>> unique_names(["Read", "Map(f)", "Read"])
    ['Read', 'Map(f)', 'Read (2)']
    """
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def display_slots(names: Sequence[str]) -> list[list[int]]:
    """Group operator indices into display slots: an input buffer and the read it feeds
    (the next operator, named the same or ``<name>->...`` when fused) share one slot,
    shown with the later one's counts.

    >>> display_slots(["ReadParquet", "ReadParquet", "MapBatches(f)"])
    [[0, 1], [2]]
    >>> display_slots(["ReadRange", "ReadRange->MapBatches(f)", "Aggregate"])
    [[0, 1], [2]]
    """
    slots: list[list[int]] = []
    for i, name in enumerate(names):
        prev = names[slots[-1][-1]] if slots else None
        if prev is not None and len(slots[-1]) == 1 and (name == prev or name.startswith(prev + "->")):
            slots[-1].append(i)
        else:
            slots.append([i])
    return slots


def _bar(done: int, total: int, cells: int = 10) -> str:
    filled = min(cells, (done * cells) // total) if total > 0 else cells
    return "[" + "#" * filled + "-" * (cells - filled) + "]"


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to at most ``width`` characters (``...`` marks a cut)."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 3)] + "..." if width >= 3 else text[:width]


def format_line(ops: Sequence[OperatorProgress], *, elapsed_s: float, width: int,
                title: str = "Running") -> str:
    """One line of at most ``width`` characters: the overall progress (the last
    operator's outputs) and each operator's ``done/total`` and status.

    >>> format_line([OperatorProgress("ReadRange", 3)], elapsed_s=0.25, width=30)
    'Running 0.2s 3 | ReadRange 3'
    >>> format_line([OperatorProgress("Read", 4, 4), OperatorProgress("Map(f)", 2, None, "0 active, 1 queued")],
    ...             elapsed_s=2, width=80)
    'Running 2.0s [#####-----] 2/~4 | Read 4/4 > Map(f) 2/~4 1 queued'
    >>> len(format_line([OperatorProgress("X" * 200, 1, 2)], elapsed_s=1, width=40))
    40
    """
    parts = []
    overall = "0"
    estimate: int | None = None
    for op in ops:
        # an operator whose total is unknown expects about as many outputs as its input
        total, approx = (op.total, "") if op.total else (estimate, "~")
        estimate = total
        count = f"{op.done}/{approx}{total}" if total else f"{op.done}"
        overall = f"{_bar(op.done, total)} {count}" if total else count
        parts.append(" ".join(p for p in (op.name, count, _short_status(op.status)) if p))
    return _fit(f"{title} {elapsed_s:.1f}s {overall} | " + " > ".join(parts), width)


def _short_status(status: str) -> str:
    """Drop the zero counts of a status (``"0 active, 2 queued"`` -> ``"2 queued"``)."""
    return ", ".join(p for p in status.split(", ") if p and not p.startswith("0 "))


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _in_notebook() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class _GuardedStream:
    """Stands in for ``sys.stdout``/``sys.stderr`` while a terminal line is shown: each
    write first erases the line and redraws it once the text ends a line."""

    def __init__(self, inner: TextIO, terminal: _TerminalLine) -> None:
        self._inner = inner
        self._terminal = terminal

    def write(self, text: str) -> int:
        return self._terminal.write_through(self._inner, text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _TerminalLine:
    """The one progress line of this process (shared by concurrent executions)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._active: list[ProgressBars] = []
        self._out: TextIO | None = None          # the real terminal stream the line is drawn on
        self._saved: tuple[Any, Any] | None = None
        self._drawn = False
        self._line_start = True
        self._guards: list[tuple[Any, _GuardedStream]] = []  # never freed, see _guard

    # -- registration
    def attach(self, bars: ProgressBars) -> None:
        global _ATEXIT_REGISTERED
        with self._lock:
            if not _ATEXIT_REGISTERED:  # a line left at exit (Ctrl-C, an abandoned run) is erased
                atexit.register(_reset_terminal)
                _ATEXIT_REGISTERED = True
            if not self._active:
                self._out = sys.stderr
                self._saved = (sys.stdout, sys.stderr)
                sys.stderr = self._guard(sys.stderr)  # type: ignore[assignment]
                if _is_tty(sys.stdout):
                    sys.stdout = self._guard(sys.stdout)  # type: ignore[assignment]
                self._line_start = True
            self._active.append(bars)

    def reset(self) -> None:
        """Erase the line and give the streams back, whatever is still attached."""
        with self._lock:
            for bars in list(self._active):
                self.detach(bars, None)

    def detach(self, bars: ProgressBars, failure_line: str | None) -> None:
        with self._lock:
            if bars not in self._active:
                return
            self._active.remove(bars)
            self._erase()
            if failure_line is not None and self._out is not None:
                self._raw(("" if self._line_start else "\n") + f"{_RED}{failure_line}{_RESET}\n")
                self._line_start = True
            if self._active:
                self.draw()
                return
            if self._saved is not None:
                old_out, old_err = self._saved
                if isinstance(sys.stdout, _GuardedStream) and sys.stdout._terminal is self:
                    sys.stdout = old_out
                if isinstance(sys.stderr, _GuardedStream) and sys.stderr._terminal is self:
                    sys.stderr = old_err
            self._saved = None
            self._out = None

    def _guard(self, stream: Any) -> _GuardedStream:
        """The guard of ``stream``, made once and kept for good: ``print`` holds a borrowed
        reference to ``sys.stdout`` across its writes (CPython), so a guard swapped out by
        another thread while a print is under way must stay alive (it then passes writes through)."""
        for inner, guard in self._guards:
            if inner is stream:
                return guard
        guard = _GuardedStream(stream, self)
        self._guards.append((stream, guard))
        return guard

    # -- drawing
    def width(self) -> int:
        try:
            return os.get_terminal_size(self._out.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            return 80

    def draw(self) -> None:
        with self._lock:
            if self._out is None or not self._line_start:
                return
            width = self.width() - 1  # never touch the last column: no wrap, ever
            lines = [b.line(width) for b in self._active if b.visible()]
            if not lines:
                self._erase()
                return
            text = _fit("  ||  ".join(lines), width)
            self._raw(_ERASE + text)
            self._drawn = True

    def _erase(self) -> None:
        if self._drawn:
            self._raw(_ERASE)
            self._drawn = False

    def _raw(self, text: str) -> None:
        try:
            self._out.write(text)  # type: ignore[union-attr]
            self._out.flush()  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):  # a closed terminal
            pass

    def write_through(self, inner: TextIO, text: str) -> int:
        with self._lock:
            if not text:
                return 0
            self._erase()
            n = inner.write(text)
            try:
                inner.flush()
            except (OSError, ValueError):
                pass
            self._line_start = text.endswith("\n")
            if self._active:
                self.draw()
            return n


_TERMINAL = _TerminalLine()
_ATEXIT_REGISTERED = False
_STALE_S = 10.0  # a display not updated for this long is not drawn (its execution is gone)


def _reset_terminal() -> None:
    _TERMINAL.reset()


class _NotebookOutput:
    """One IPython display output, updated in place by display id."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, text: str, html_text: str) -> None:
        from IPython.display import display

        data = {"text/plain": text, "text/html": html_text}
        if self._handle is None:
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)

    def clear(self) -> None:
        if self._handle is not None:
            self._handle.update({}, raw=True)


class ProgressBars:
    """The progress display of one execution, updated by the executor's loop.

    Args:
        names: the operators' names, in the executor's (topological) order.
        enabled: draw anything at all (``DataContext.progress_bars_enabled()``).
        delay_s: draw only once the execution has run this long.
    """

    def __init__(self, names: Sequence[str], *, enabled: bool, delay_s: float = 0.3) -> None:
        self._slots = display_slots(list(names))
        labels = unique_names([names[slot[-1]] for slot in self._slots])
        self._slot_of = {i: s for s, slot in enumerate(self._slots) for i in slot}
        self._ops = [OperatorProgress(label) for label in labels]
        self._start = time.monotonic()
        self._delay_s = delay_s
        self._last_draw = 0.0
        self._last_update = self._start
        self._closed = False
        self._mode = "off"
        self._notebook: _NotebookOutput | None = None
        if enabled:
            if _in_notebook():
                self._mode = "notebook"
                self._notebook = _NotebookOutput()
            elif _is_tty(sys.stderr):
                self._mode = "terminal"
                _TERMINAL.attach(self)
        self.enabled = self._mode != "off"

    @property
    def names(self) -> list[str]:
        """The names shown, one per display slot."""
        return [op.name for op in self._ops]

    def visible(self) -> bool:
        now = time.monotonic()
        return (not self._closed and now - self._start >= self._delay_s
                and now - self._last_update < _STALE_S)

    def line(self, width: int) -> str:
        return format_line(self._ops, elapsed_s=time.monotonic() - self._start, width=width)

    def update(self, index: int, *, done: int, total: int | None = None, status: str = "") -> None:
        """Set operator ``index``'s count of outputs to ``done`` (of ``total`` when known)."""
        if not self.enabled or self._closed:
            return
        slot = self._slot_of[index]
        if index != self._slots[slot][-1]:
            return  # the input buffer of a read: shown through the read itself
        self._ops[slot] = OperatorProgress(self._ops[slot].name, done, total, status)
        now = self._last_update = time.monotonic()
        if not self.visible() or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        if self._mode == "terminal":
            _TERMINAL.draw()
        elif self._notebook is not None:
            self._show_notebook("Running", "#1f77b4")

    def _show_notebook(self, title: str, colour: str) -> None:
        elapsed = time.monotonic() - self._start
        text = format_line(self._ops, elapsed_s=elapsed, width=10_000, title=title)
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(op.name)}</td>"
            f"<td style='text-align:left'>{op.done}{'/' + str(op.total) if op.total else ''}</td>"
            f"<td style='text-align:left'>{html.escape(op.status)}</td></tr>" for op in self._ops)
        last = self._ops[-1]
        bar = (f"<progress value='{last.done}' max='{last.total}' style='width:12em'></progress> "
               if last.total else "")
        page = (f"<div class='streamdata-progress' style='color:{colour}'>{bar}"
                f"<b>{html.escape(title)}</b> {elapsed:.1f}s"
                f"<table style='margin:0;color:inherit'>{rows}</table></div>")
        try:
            self._notebook.show(text, page)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a display failure must never fail the execution
            self._mode = "off"
            self.enabled = False

    def close(self, success: bool | None = None) -> None:
        """End the display: erased on success (or when the outcome is not given), kept in
        red when ``success`` is False."""
        if self._closed:
            return
        self._closed = True
        failed = success is False
        if self._mode == "terminal":
            line = None
            if failed:
                line = format_line(self._ops, elapsed_s=time.monotonic() - self._start,
                                   width=_TERMINAL.width() - 1, title="Failed")
            _TERMINAL.detach(self, line)
        elif self._notebook is not None:
            try:
                if failed:
                    self._show_notebook("Failed", "#d62728")
                else:
                    self._notebook.clear()
            except Exception:  # noqa: BLE001 - never fail the execution for a display
                pass


__all__ = ["OperatorProgress", "ProgressBars", "display_slots", "format_line", "unique_names"]
