"""Progress bars: one tqdm bar per operator (the notebook flavour inside Jupyter), drawn
only when ``DataContext.get_current().progress_bars_enabled()``.

Example:
    >>> bars = ProgressBars(["ReadRange", "MapBatches(f)"], enabled=False)
    >>> bars.update(0, done=3, total=10, status="2 active"); bars.close()
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def _tqdm_class() -> Any:
    if "ipykernel" in sys.modules:
        try:
            from tqdm.notebook import tqdm as notebook_tqdm
            return notebook_tqdm
        except ImportError:  # ipywidgets missing: plain bars still work
            pass
    from tqdm import tqdm
    return tqdm


class ProgressBars:
    """Bars for a list of operators, updated by the executor's loop."""

    def __init__(self, names: Sequence[str], *, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: list[Any] = []
        if not enabled:
            return
        tqdm = _tqdm_class()
        for i, name in enumerate(names):
            self._bars.append(tqdm(total=None, desc=f"- {name}", position=i, leave=False,
                                   unit=" bundle", dynamic_ncols=True))

    def update(self, index: int, *, done: int, total: int | None = None, status: str = "") -> None:
        """Set operator ``index``'s bar to ``done`` (of ``total`` when known)."""
        if not self.enabled:
            return
        bar = self._bars[index]
        if total is not None and bar.total != total:
            bar.total = total
        if done != bar.n:
            bar.n = done
        if status:
            bar.set_postfix_str(status, refresh=False)
        bar.refresh()

    def close(self) -> None:
        for bar in self._bars:
            try:
                bar.close()
            except Exception:  # noqa: BLE001 - a closed terminal
                pass
        self._bars = []
