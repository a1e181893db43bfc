"""Argument checks of the runtime's public functions: the error names the argument,
what it got and what it accepts (pure, no runtime needed).

Example:
    >>> check_timeout(1.5, "get")
    1.5
    >>> try:
    ...     check_timeout("x", "get")
    ... except TypeError as e:
    ...     print(e)
    get(timeout=...) must be None or a number of seconds >= 0, got 'x' (str)
"""

from __future__ import annotations

from typing import Any

from streamdata.errors import PlacementGroupError


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_timeout(timeout: Any, where: str) -> float | None:
    """``timeout`` as None or seconds >= 0 (TypeError / ValueError otherwise)."""
    if timeout is None:
        return None
    if not _is_number(timeout):
        raise TypeError(f"{where}(timeout=...) must be None or a number of seconds >= 0, "
                        f"got {timeout!r} ({type(timeout).__name__})")
    if timeout < 0:
        raise ValueError(f"{where}(timeout=...) must be None or a number of seconds >= 0, got {timeout!r}")
    return float(timeout)


def check_amount(name: str, value: Any) -> float | None:
    """A resource amount (``num_cpus``, ``num_gpus``, ``memory``, a custom resource): a number >= 0.

    Example:
        >>> check_amount("num_cpus", 2)
        2.0
    """
    if value is None:
        return None
    if not _is_number(value):
        raise TypeError(f"{name} must be a number >= 0, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int, what: str = "") -> int:
    """An int >= ``minimum`` (bools are not ints here).

    Example:
        >>> check_int("max_retries", -1, minimum=-1, what="(-1: retry forever)")
        -1
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise (ValueError if isinstance(value, int) and not isinstance(value, bool) else TypeError)(
            f"{name} must be an int >= {minimum}{' ' + what if what else ''}, "
            f"got {value!r} ({type(value).__name__})")
    return value


def check_bool(name: str, value: Any) -> bool:
    """A bool (``force``, ``fetch_local``, ``no_restart``...)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


#: the placement strategies Ray accepts
STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


def validate_bundles(bundles: Any, strategy: str) -> list[dict[str, float]]:
    """Check a placement group request; returns the bundles as float dicts.

    Example:
        >>> validate_bundles([{"CPU": 1}], "PACK")
        [{'CPU': 1.0}]
    """
    if strategy not in STRATEGIES:
        raise PlacementGroupError(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    if not isinstance(bundles, (list, tuple)) or not bundles:
        raise PlacementGroupError("bundles must be a non-empty list of resource dicts")
    out = []
    for i, bundle in enumerate(bundles):
        if not isinstance(bundle, dict) or not bundle:
            raise PlacementGroupError(f"bundle {i} must be a non-empty dict, got {bundle!r}")
        if any((not isinstance(v, (int, float))) or v < 0 for v in bundle.values()):
            raise PlacementGroupError(f"bundle {i} has a negative or non-numeric amount: {bundle!r}")
        if all(v == 0 for v in bundle.values()):
            raise PlacementGroupError(f"bundle {i} reserves nothing: {bundle!r}")
        out.append({k: float(v) for k, v in bundle.items()})
    return out
