"""``tqdm`` for tasks and actors (Ray's ``ray.experimental.tqdm_ray``).

A bar made in a worker writes one status line at a time to the worker's stderr,
which the runtime forwards to the driver (``log_to_driver``), prefixed with the
worker; at most every ``flush_interval_s`` seconds, and once when it closes. It
does not import the ``tqdm`` package, so a script named ``tqdm.py`` works too.

Example:
    >>> import io
    >>> from streamdata.experimental.tqdm_ray import tqdm
    >>> out = io.StringIO()
    >>> sum(tqdm(range(3), desc="count", file=out))
    3
    >>> out.getvalue().splitlines()[-1]
    'count: 100% 3/3'
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

__all__ = ["tqdm", "safe_print"]


class tqdm:  # noqa: N801 - Ray's name
    """A progress bar over ``iterable`` (or updated by hand with :meth:`update`)."""

    def __init__(self, iterable: Iterable | None = None, desc: str | None = None, total: int | None = None,
                 unit: str | None = None, position: int | None = None, flush_interval_s: float = 1.0,
                 file: TextIO | None = None) -> None:
        if flush_interval_s < 0:
            raise ValueError(f"tqdm(flush_interval_s=...) must be >= 0, got {flush_interval_s!r}")
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.desc, self.total, self.unit = iterable, desc or "", total, unit or "it"
        self.position, self.n, self._interval = position, 0, flush_interval_s
        # the first update always writes (a monotonic clock may start near 0 at boot)
        self._file, self._last, self._closed = file, -math.inf, False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("tqdm() was given no iterable; call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps."""
        self.n += n
        if time.monotonic() - self._last >= self._interval:
            self._emit()

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def close(self) -> None:
        """Write the final state (once)."""
        if not self._closed:
            self._closed = True
            self._emit()

    def _emit(self) -> None:
        self._last = time.monotonic()
        if self.total:
            text = f"{self.desc}: {100 * self.n // self.total}% {self.n}/{self.total}"
        else:
            text = f"{self.desc}: {self.n} {self.unit}"
        print(text, file=self._file or sys.stderr, flush=True)

    def __enter__(self) -> "tqdm":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def safe_print(*args: Any, **kwargs: Any) -> None:
    """``print`` for code that also shows bars (lines are never torn here)."""
    print(*args, **kwargs)
