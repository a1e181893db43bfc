"""``ray.cloudpickle`` under streamdata's name: the cloudpickle library (which streamdata
uses for tasks, actors and UDFs), so Ray code that calls ``ray.cloudpickle.dumps(...)`` runs
with only the import changed. Ray's debugging variants (``dumps_debug``, ``dump_debug``) are not
mirrored.

Example:
    >>> import streamdata as sd
    >>> sd.cloudpickle.loads(sd.cloudpickle.dumps(lambda x: x + 1))(1)
    2
"""

from __future__ import annotations

from pickle import PicklingError

from cloudpickle import (
    DEFAULT_PROTOCOL, CloudPickler, Pickler, dump, dumps, list_registry_pickle_by_value, load, loads,
    register_pickle_by_value, unregister_pickle_by_value,
)

__all__ = ["DEFAULT_PROTOCOL", "CloudPickler", "Pickler", "PicklingError", "dump", "dumps",
           "list_registry_pickle_by_value", "load", "loads", "register_pickle_by_value", "unregister_pickle_by_value"]
