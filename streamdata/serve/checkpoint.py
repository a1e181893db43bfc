"""The controller's checkpoint: what it must know to take over after a restart
(the applications, their deployments' specs, and the replicas it started), in
one file written atomically (a temporary file renamed over the old one).

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> save(path, {"version": 3})
    >>> load(path)
    {'version': 3}
    >>> load(path + ".missing") is None
    True
"""

from __future__ import annotations

import os
import pickle
from typing import Any


def save(path: str, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` (all or nothing)."""
    import cloudpickle

    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(cloudpickle.dumps(state, protocol=5))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load(path: str) -> dict[str, Any] | None:
    """The state saved at ``path``, or None when there is none."""
    try:
        with open(path, "rb") as f:
            return pickle.loads(f.read())
    except FileNotFoundError:
        return None


__all__ = ["load", "save"]
