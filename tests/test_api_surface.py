"""Ray's public surface, checked against streamdata's, so parity cannot silently fall behind.

For each public name of ``ray.data`` (its ``__all__``), of ``Dataset``, ``GroupedData``,
``DataIterator``, ``DataContext``, ``ray.data.expressions``, ``ray.data.aggregate`` and the Ray Core
names users call, streamdata must have the name, and every parameter name of Ray's signature
(``*args``/``**kwargs`` aside; a ``**kwargs`` of ours does not count as accepting a name).

What is not there yet is listed in ``KNOWN_GAPS``: the test fails when a new gap appears *and* when
a listed gap is closed (remove it from the list then), so the list is always the exact to-do.
Regenerate the list and print the count with::

    python tests/test_api_surface.py
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any, Callable, Iterator

import pytest

ray = pytest.importorskip("ray")

#: Connectors that only reach a cloud service or a server we cannot run locally (API.md: reachable on
#: the Ray backend); they need not exist here.
CLOUD_ONLY = frozenset({
    "read_bigquery", "write_bigquery", "read_snowflake", "write_snowflake", "read_databricks_tables",
    "read_unity_catalog", "DatabricksUnityCatalog", "read_clickhouse", "write_clickhouse",
    "ClickHouseTableSettings", "read_kafka", "write_kafka", "KafkaAuthConfig", "read_mongo", "write_mongo",
    "read_delta_sharing_tables", "write_turbopuffer", "read_turbopuffer", "read_lerobot", "read_mcap",
})

#: Ray's developer APIs that users do not call (left out of the comparison on purpose).
DEVELOPER_ONLY = frozenset({
    "map_batches_internal",  # map_batches without its public argument checks
})

#: Ray Core names a Ray program calls (the rest of ``dir(ray)`` is modules and internals).
CORE_NAMES = (
    "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "cancel", "kill", "get_actor",
    "get_gpu_ids", "available_resources", "cluster_resources", "nodes", "timeline", "method",
    "get_runtime_context", "ObjectRef", "ObjectRefGenerator",
)

#: The exact to-do list (see the module docstring). Entries: "surface:name" for a missing name,
#: "surface:name(param)" for a missing parameter.
#: Measured: 1567 of 1567 names and parameters present (0 gaps)
KNOWN_GAPS: frozenset[str] = frozenset({
})


def _public(obj: Any) -> list[str]:
    return sorted(n for n in dir(obj) if not n.startswith("_"))


#: Classes whose constructor is internal in Ray (users get them from functions, never build them).
INTERNAL_CONSTRUCTORS = frozenset({"Dataset", "DataContext", "DataIterator", "GroupedData", "Schema",
                                   "ColumnExpr", "AliasExpr", "Expr"})


def _param_names(fn: Callable) -> list[str] | None:
    """Public parameter names (Ray's private ``_x`` parameters and ``*args/**kwargs`` aside)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [p.name for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ("self", "cls")
            and not p.name.startswith("_")]


def _surfaces() -> Iterator[tuple[str, Any, Any, list[str]]]:
    """(surface name, Ray's object, ours, names to compare)."""
    import ray.data as rd
    import ray.data.aggregate as ragg
    import ray.data.expressions as rexpr
    from ray.data.grouped_data import GroupedData as RayGrouped

    import streamdata as sd
    import streamdata.aggregate as sagg
    import streamdata.expressions as sexpr
    from streamdata.grouped import GroupedData
    from streamdata.iterator import DataIterator

    yield "ray.data", rd, sd, [n for n in rd.__all__ if n not in CLOUD_ONLY]
    yield "Dataset", rd.Dataset, sd.Dataset, [n for n in _public(rd.Dataset)
                                              if n not in CLOUD_ONLY and n not in DEVELOPER_ONLY]
    yield "GroupedData", RayGrouped, GroupedData, _public(RayGrouped)
    yield "DataIterator", rd.DataIterator, DataIterator, _public(rd.DataIterator)
    yield "expressions", rexpr, sexpr, [n for n in rexpr.__all__ if not n.startswith("_")]
    aggs = [n for n in _public(ragg) if inspect.isclass(getattr(ragg, n))
            and getattr(ragg, n).__module__.startswith("ray.data.aggregate")]
    yield "aggregate", ragg, sagg, aggs
    yield "core", ray, sd, list(CORE_NAMES)


def _context_gaps() -> Iterator[str]:
    from ray.data import DataContext as RayContext

    import streamdata as sd
    ours = sd.DataContext.get_current()
    for field in dataclasses.fields(RayContext):
        if not field.name.startswith("_") and not hasattr(ours, field.name):
            yield f"DataContext:{field.name}"


def compare(surfaces: Iterator[tuple[str, Any, Any, list[str]]],
            internal_constructors: frozenset[str] = INTERNAL_CONSTRUCTORS) -> tuple[set[str], int]:
    """The gaps of ``surfaces`` ((surface name, Ray's object, ours, names)): names ours lacks
    ("surface:name") and parameters of Ray's callables ours lacks ("surface:name(param)"), and
    how many names and parameters were compared. Constructors named in
    ``internal_constructors`` are not compared (users never call them)."""
    gaps: set[str] = set()
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for surface, theirs, ours, names in surfaces:
            for name in names:
                compared += 1
                if not hasattr(ours, name):
                    gaps.add(f"{surface}:{name}")
                    continue
                their_obj, our_obj = getattr(theirs, name, None), getattr(ours, name)
                if not callable(their_obj) or not callable(our_obj) or name in internal_constructors:
                    continue
                their_params = _param_names(their_obj)
                our_params = _param_names(our_obj)
                if their_params is None or our_params is None:
                    continue
                for param in their_params:
                    compared += 1
                    if param not in our_params:
                        gaps.add(f"{surface}:{name}({param})")
    return gaps, compared


def find_gaps() -> tuple[set[str], int]:
    """Every gap, and how many names and parameters were compared."""
    gaps, compared = compare(_surfaces())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = list(_context_gaps())
        import ray.data as rd
        compared += len([f for f in dataclasses.fields(rd.DataContext) if not f.name.startswith("_")])
        gaps.update(context)
    return gaps, compared


def test_ray_public_surface_is_matched_or_listed() -> None:
    gaps, compared = find_gaps()
    new = sorted(gaps - KNOWN_GAPS)
    closed = sorted(KNOWN_GAPS - gaps)
    assert not new, f"{len(new)} new gaps against Ray's public API (add them, or list them): {new}"
    assert not closed, f"these gaps are closed now; remove them from KNOWN_GAPS: {closed}"
    assert compared > 500  # the comparison really ran over Ray's surface


def test_cloud_only_connectors_are_not_in_the_count() -> None:
    import ray.data as rd
    assert CLOUD_ONLY & set(rd.__all__), "the allow-list names connectors Ray really exports"


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    found, total = find_gaps()
    print(f"# {total - len(found)} of {total} names and parameters present ({len(found)} gaps)")
    print("KNOWN_GAPS: frozenset[str] = frozenset({")
    for gap in sorted(found):
        print(f"    {gap!r},")
    print("})")


def test_ray_cloudpickle_names_are_there_with_rays_parameters() -> None:
    """``ray.cloudpickle`` (a module, so outside the surfaces above): the names Ray programs call on
    it exist in ``streamdata.cloudpickle`` with Ray's parameters (``dumps_debug`` / ``dump_debug``,
    Ray's debugging variants, are not mirrored)."""
    import ray.cloudpickle as theirs

    import streamdata as sd

    ours = sd.cloudpickle
    for name in ("dump", "dumps", "load", "loads", "register_pickle_by_value", "unregister_pickle_by_value",
                 "list_registry_pickle_by_value", "CloudPickler", "Pickler", "PicklingError", "DEFAULT_PROTOCOL"):
        assert hasattr(ours, name), name
        if inspect.isfunction(getattr(theirs, name)):
            assert _param_names(getattr(ours, name)) == _param_names(getattr(theirs, name)), name
    assert ours.PicklingError is theirs.PicklingError and ours.DEFAULT_PROTOCOL == theirs.DEFAULT_PROTOCOL



def test_ray_actor_module_names_are_there_with_rays_parameters() -> None:
    """``ray.actor`` (``from ray.actor import ActorHandle``, ``ray.actor.exit_actor()``): the public
    names exist in ``streamdata.actor``, functions with Ray's parameters."""
    import ray.actor as theirs

    import streamdata as sd

    ours = sd.actor
    for name in ("ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"):
        assert hasattr(theirs, name) and hasattr(ours, name), name
    assert _param_names(ours.exit_actor) == _param_names(theirs.exit_actor)


#: ``ray.exceptions`` classes not mirrored: compiled graphs and their channels, other
#: languages, transports, Ray's internals (none is raised to a Python program on one machine)
EXCEPTIONS_NOT_MIRRORED = {
    "ActorHandleNotFoundError", "AsyncioActorExit", "AuthenticationError", "CrossLanguageError",
    "ObjectRefStreamEndOfStreamError", "OufOfBandObjectRefSerializationException", "PlasmaObjectNotAvailable",
    "RayCgraphCapacityExceeded", "RayChannelError", "RayChannelTimeoutError", "RayDirectTransportError",
    "ReferenceCountingAssertionError", "RpcError", "StreamingGeneratorReplayInconsistentError",
    "UnserializableException", "UserCodeException",
}


def test_rays_exception_classes_are_there_with_their_bases() -> None:
    """``except ray.exceptions.<Name>`` runs with only the import changed: every exception class
    of ``ray.exceptions`` (but :data:`EXCEPTIONS_NOT_MIRRORED`) is in ``sd.exceptions``, and a
    class that is a ``ValueError``, ``TimeoutError`` ... or a kind of lost object in Ray is one here."""
    import ray.exceptions as theirs

    import streamdata as sd

    for name, cls in vars(theirs).items():
        if not (inspect.isclass(cls) and issubclass(cls, BaseException)) or name.startswith("_"):
            continue
        if name in EXCEPTIONS_NOT_MIRRORED or cls.__module__ != theirs.__name__:
            continue
        ours = getattr(sd.exceptions, name, None)
        assert ours is not None, f"sd.exceptions.{name}"
        for base in (ValueError, TimeoutError, MemoryError, theirs.ObjectLostError, theirs.RayActorError,
                     theirs.RayTaskError):
            if issubclass(cls, base):
                mirrored = getattr(sd.exceptions, base.__name__) if base.__module__ == theirs.__name__ else base
                assert issubclass(ours, mirrored), f"{name} is a {base.__name__} in Ray"


def test_ray_runtime_context_module_names_are_there() -> None:
    import ray.runtime_context as theirs

    import streamdata.runtime_context as ours

    for name in ("RuntimeContext", "get_runtime_context"):
        assert hasattr(theirs, name) and hasattr(ours, name), name
    public = [m for m in dir(theirs.RuntimeContext) if not m.startswith("_")]
    missing = [m for m in public if not hasattr(ours.RuntimeContext, m)]
    assert not missing, f"RuntimeContext lacks {missing}"


def test_rays_preprocessors_are_there_with_rays_parameters() -> None:
    """Every preprocessor class of ``ray.data.preprocessors``, with Ray's constructor parameters."""
    import ray.data.preprocessors as theirs

    import streamdata.preprocessors as ours

    for name in theirs.__all__:
        assert hasattr(ours, name), f"streamdata.preprocessors.{name}"
        cls = getattr(theirs, name)
        if inspect.isclass(cls) and name not in ("Preprocessor",):
            assert _param_names(getattr(ours, name).__init__) == _param_names(cls.__init__), name


def test_ray_serve_exceptions_are_there_with_their_bases() -> None:
    """``ray.serve.exceptions`` (``gRPCStatusError``, which a deployment raises to set a gRPC status, is not
    mirrored)."""
    import ray.serve.exceptions as theirs

    import streamdata.serve.exceptions as ours

    for name in ("BackPressureError", "DeploymentUnavailableError", "RayServeException", "ReplicaUnavailableError",
                 "RequestCancelledError"):
        assert issubclass(getattr(theirs, name), theirs.RayServeException)
        assert issubclass(getattr(ours, name), ours.RayServeException), name


def test_ray_air_names_are_there_with_rays_values() -> None:
    """``ray.air`` (older Ray programs): its public names, and ``ray.air.constants``' keys with Ray's values."""
    import ray.air as theirs
    import ray.air.constants as their_constants

    import streamdata as sd
    import streamdata.air.constants as our_constants

    for name in theirs.__all__:
        if name in ("AcquiredResources", "ResourceRequest"):  # Ray Tune's resource internals: not mirrored
            continue
        assert hasattr(sd.air, name), f"streamdata.air.{name}"
    for name in our_constants.__all__:
        assert getattr(our_constants, name) == getattr(their_constants, name), name
