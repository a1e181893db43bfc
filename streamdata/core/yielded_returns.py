"""A generator task with a fixed ``num_returns``: its yielded items are its returns.

``@sd.remote(num_returns=3)`` on a generator function gives three refs, the three
items it yields, as Ray's. If the generator raises after ``k`` items, the first
``k`` refs hold the items and the others the error; an error after the last
declared item is only logged (Ray does the same). Yielding more items than
declared is an error naming the function. Pure: no processes, no I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any


def collect_yielded(gen: Iterator[Any], num_returns: int, name: str) -> tuple[list[Any], BaseException | None]:
    """Run ``gen`` to its end: ``(items, error)``, ``error`` being what it raised
    before yielding ``num_returns`` items (``None`` when it yielded them all).

    Example:
        >>> def three():
        ...     yield from (1, 2)
        ...     raise KeyError("k")
        >>> collect_yielded(three(), 3, "three")
        ([1, 2], KeyError('k'))
        >>> collect_yielded(iter([1, 2]), 2, "two")
        ([1, 2], None)

    Raises:
        ValueError: the generator yielded more than ``num_returns`` items.
    """
    items: list[Any] = []
    error: BaseException | None = None
    more = False
    try:
        for item in gen:
            if len(items) == num_returns:
                more = True
                break
            items.append(item)
    except BaseException as exc:  # noqa: BLE001 - it goes to the refs not filled
        error = exc
    if more:
        raise ValueError(f"{name} was declared with num_returns={num_returns} but its generator "
                         f"yielded more items; yield at most {num_returns}, or use "
                         f"num_returns='streaming' for any number")
    if error is not None and len(items) == num_returns:
        _log_late(name, error)
        error = None
    if error is None and len(items) < num_returns:
        error = ValueError(f"{name} was declared with num_returns={num_returns} but its generator "
                           f"yielded {len(items)} items")
    return items, error


def _log_late(name: str, exc: BaseException) -> None:
    print(f"{name}: the generator raised {type(exc).__name__}: {exc} after yielding all its "
          f"declared returns; the error is dropped", file=sys.stderr)
