"""``ray.air.session``: Ray AIR's per-worker session functions, which older training
loops call (``session.report(...)``, ``session.get_world_rank()``). Each does what its
:mod:`streamdata.train` successor does, with a ``DeprecationWarning`` naming it
(``session.report`` is ``train.report``; ``session.get_world_rank()`` is
``train.get_context().get_world_rank()``).

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = successor("get_world_rank")
    >>> "train.get_context().get_world_rank()" in str(caught[0].message)
    True
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from streamdata import train

#: the session functions that read the worker's train context
_CONTEXT_GETTERS = ("get_world_rank", "get_world_size", "get_local_rank", "get_local_world_size", "get_node_rank",
                    "get_experiment_name", "get_trial_name", "get_trial_id", "get_trial_dir", "get_trial_resources",
                    "get_metadata", "get_storage")
#: the session functions that are ``streamdata.train`` functions
_FUNCTIONS = ("report", "get_checkpoint", "get_dataset_shard")


def successor(name: str) -> Callable[..., Any]:
    """What ``ray.air.session.<name>`` is now, warning once per call that it moved."""
    if name in _FUNCTIONS:
        new, target = f"train.{name}", getattr(train, name)
    else:
        new = f"train.get_context().{name}()"

        def target(*args: Any, **kwargs: Any) -> Any:
            return getattr(train.get_context(), name)(*args, **kwargs)
    warnings.warn(f"ray.air.session.{name} is deprecated: use {new}", DeprecationWarning, stacklevel=3)
    return target


def _forward(name: str) -> Callable[..., Any]:
    def function(*args: Any, **kwargs: Any) -> Any:
        return successor(name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Deprecated: :func:`successor` of ``{name}``."
    return function


report = _forward("report")
get_checkpoint = _forward("get_checkpoint")
get_dataset_shard = _forward("get_dataset_shard")
get_world_rank = _forward("get_world_rank")
get_world_size = _forward("get_world_size")
get_local_rank = _forward("get_local_rank")
get_local_world_size = _forward("get_local_world_size")
get_node_rank = _forward("get_node_rank")
get_experiment_name = _forward("get_experiment_name")
get_trial_name = _forward("get_trial_name")
get_trial_id = _forward("get_trial_id")
get_trial_dir = _forward("get_trial_dir")
get_trial_resources = _forward("get_trial_resources")
get_metadata = _forward("get_metadata")
get_storage = _forward("get_storage")

__all__ = [*_FUNCTIONS, *_CONTEXT_GETTERS, "successor"]
