"""``inspect_serializability``: find what in an object cannot be pickled for a task or actor.

Example:
    >>> import threading
    >>> lock = threading.Lock()
    >>> def uses_lock():
    ...     with lock:
    ...         return 1
    >>> ok, failures = inspect_serializability(uses_lock, name="uses_lock", print_file=None)
    >>> ok, sorted(f.name for f in failures)
    (False, ['lock'])
    >>> inspect_serializability([1, 2])[0]
    True
"""

from __future__ import annotations

import inspect
import io
import sys
from typing import Any, NamedTuple

__all__ = ["inspect_serializability", "FailureTuple"]


class FailureTuple(NamedTuple):
    """One object that does not serialize: the object, its name, and the object it was found in."""

    obj: Any
    name: str
    parent: Any

    def __repr__(self) -> str:
        return f"FailTuple({self.name} [obj={self.obj}, parent={self.parent}])"


def _serializes(obj: Any) -> tuple[bool, str]:
    import cloudpickle
    try:
        cloudpickle.dumps(obj)
        return True, ""
    except Exception as e:  # noqa: BLE001 - any pickling failure is what we look for
        return False, f"{type(e).__name__}: {e}"


def _members(obj: Any) -> dict[str, Any]:
    """What ``obj`` carries that pickling it pickles too: closure and globals of a function,
    attributes of an object, items of a container."""
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        fn = obj.__func__ if inspect.ismethod(obj) else obj
        try:
            closure = inspect.getclosurevars(fn)
        except (TypeError, ValueError):
            return {}
        found = {**closure.globals, **closure.nonlocals}
        if inspect.ismethod(obj):
            found["self"] = obj.__self__
        return found
    if isinstance(obj, dict):
        return {repr(k): v for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return {f"[{i}]": v for i, v in enumerate(obj)}
    if inspect.isclass(obj):
        return {k: v for k, v in vars(obj).items() if not (k.startswith("__") and k.endswith("__"))}
    return dict(getattr(obj, "__dict__", {}) or {})


def inspect_serializability(base_obj: Any, name: str | None = None, depth: int = 3,
                            print_file: Any = sys.stdout) -> tuple[bool, set[FailureTuple]]:
    """Whether ``base_obj`` pickles (as tasks and actors need), and the innermost members that do not.

    Args:
        base_obj: a function, class, object or container.
        name: what to call it in the report (default: its ``__name__`` or repr).
        depth: how many levels of members to look into.
        print_file: where the report goes (a file; None: nowhere).

    Returns:
        ``(serializable, failures)``: failures are :class:`FailureTuple` of the deepest
        members found that do not serialize (the object itself if none of its members is to blame).
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"inspect_serializability(depth=...) must be an int >= 1, got {depth!r}")
    out = print_file if print_file is not None else io.StringIO()
    label = name or getattr(base_obj, "__name__", None) or repr(base_obj)
    failures: set[FailureTuple] = set()
    ok = _inspect(base_obj, label, None, depth, failures, out, 0, set())
    print("=" * 60, file=out)
    print(f"Checking serializability of {label}: {'serializable' if ok else 'NOT serializable'}", file=out)
    for failure in sorted(failures, key=lambda f: f.name):
        print(f"  - {failure.name} ({type(failure.obj).__name__}) in {failure.parent!r}", file=out)
    print("=" * 60, file=out)
    return ok, failures


def _inspect(obj: Any, name: str, parent: Any, depth: int, failures: set[FailureTuple], out: Any, level: int,
             seen: set[int]) -> bool:
    ok, why = _serializes(obj)
    if ok:
        return True
    print(f"{'    ' * level}!!! FAIL serialization of {name}: {why}", file=out)
    if id(obj) in seen:
        return False
    seen.add(id(obj))
    found_inner = False
    if depth > 1:
        for member_name, member in _members(obj).items():
            if not _serializes(member)[0]:
                found_inner = True
                _inspect(member, member_name, obj, depth - 1, failures, out, level + 1, seen)
    if not found_inner:
        try:
            failures.add(FailureTuple(obj, name, parent))
        except TypeError:  # an unhashable object: record it by its repr
            failures.add(FailureTuple(repr(obj), name, repr(parent)))
    return False
