"""Module attributes imported on first use (a module-level ``__getattr__``, PEP 562).

A package lists where each of its lazy names lives; ``import`` of the package then
costs nothing for them, and the first ``package.name`` imports the home module, with the
garbage collector paused (:func:`collector_paused`).

Example:
    >>> namespace = {}
    >>> getattr_ = lazy_attributes("demo", namespace, {"sqrt": "math:sqrt", "json": "json"})
    >>> getattr_("sqrt")(9.0), getattr_("json").__name__, "sqrt" in namespace
    (3.0, 'json', True)
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a burst of imports.

    An import builds many objects and next to no garbage, so the collections it triggers
    are pure cost (~15% of the import time of streamdata, numpy, pyarrow and pandas). The
    collector ends as it was found: a script that turned it off keeps it off.

    Example:
        >>> import gc
        >>> with collector_paused():
        ...     paused = not gc.isenabled()
        >>> paused, gc.isenabled()
        (True, True)
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def lazy_attributes(package: str, namespace: dict[str, Any],
                    homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package`` whose ``namespace`` is its ``globals()``.

    Args:
        package: the package's name, for the error of an unknown attribute.
        namespace: where a looked-up value is cached (later lookups skip the hook).
        homes: attribute name → ``"module:attr"`` (that attribute of that module) or
            ``"module"`` (the module itself).
    """
    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = home.partition(":")
        with collector_paused():
            module = importlib.import_module(module_name)
        value = getattr(module, attr) if attr else module
        namespace[name] = value
        return value

    return __getattr__


def require(module: str, package: str, what: str) -> Any:
    """Import the optional dependency ``module`` that ``what`` needs, or raise an
    ImportError saying to install ``package``.

    Example:
        >>> require("json", "json", "demo").__name__
        'json'
        >>> require("no_such_module", "nosuch", "demo")
        Traceback (most recent call last):
        ...
        ImportError: demo needs nosuch: pip install nosuch
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs {package}: pip install {package}") from exc
