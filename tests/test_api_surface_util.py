"""Ray's ``ray.util``, ``ray.train`` and ``ray.serve`` surfaces, checked against streamdata's.

The same discipline as ``tests/test_api_surface.py`` (whose comparison this reuses): every
public name of Ray's module or class, and every parameter of Ray's callables, must exist
here, or be listed in ``KNOWN_GAPS``; the test fails when a new gap appears *and* when a
listed gap is closed. Names that only make sense on a cluster or a cloud are in
``CLOUD_ONLY`` with the reason. Regenerate the list with::

    python tests/test_api_surface_util.py
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Iterator

import pytest

from test_api_surface import _public, compare

ray = pytest.importorskip("ray")

#: name -> why it needs a cluster or a cloud (left out of the comparison)
CLOUD_ONLY: dict[str, str] = {
    "ray.util:connect": "Ray Client: connects a driver to a remote cluster's client server",
    "ray.util:disconnect": "Ray Client: disconnects from a remote cluster",
}

#: Ray's names that are private, or deprecated and slated for removal (not part of a program's surface)
NOT_PUBLIC = frozenset({
    "ray.serve:_run", "ray.serve:_run_many",
    "ray.util:iter",  # ParallelIterator: deprecated since Ray 2.0 (Ray Data replaces it)
})

#: classes users get from functions and never build (their constructors are not compared)
INTERNAL_CONSTRUCTORS = frozenset({"PlacementGroup", "Deployment", "Application", "DeploymentHandle",
                                   "DeploymentResponse", "Result", "TrainContext",
                                   "PendingRequest", "RunningReplica"})  # a request router gets them

#: The exact to-do list (see the module docstring): "surface:name" or "surface:name(param)".
#: Measured: 780 of 802 names and parameters present (22 gaps)
KNOWN_GAPS: frozenset[str] = frozenset({
    'ray.serve.Deployment:options(max_surge_percent)',
    'ray.serve.handle.DeploymentHandle:broadcast',
    'ray.serve.handle.DeploymentHandle:choose_replica',
    'ray.serve.handle.DeploymentHandle:dispatch',
    'ray.serve.handle.DeploymentHandle:options(request_serialization)',
    'ray.serve.handle.DeploymentHandle:options(response_serialization)',
    'ray.serve:ControllerOptions',
    'ray.serve:TracingConfig',
    'ray.serve:deployment(max_surge_percent)',
    'ray.serve:deployment(rolling_update_percentage)',
    'ray.serve:run(controller_options)',
    'ray.serve:run(external_scaler_enabled)',
    'ray.serve:start(controller_options)',
    'ray.serve:start(tracing_config)',
    'ray.train.PreemptionInfo:preempted_node_ids',
    'ray.train.PreemptionInfo:preempted_ranks',
    'ray.train.RunConfig:storage_context',
    'ray.train.ScalingConfig:as_placement_group_factory',
    'ray.train.ScalingConfig:from_placement_group_factory',
    'ray.util:collective',
    'ray.util:pdb',
    'ray.util:ray_debugpy',
})


def _keep(surface: str, names: list[str]) -> list[str]:
    return [n for n in names if f"{surface}:{n}" not in CLOUD_ONLY and f"{surface}:{n}" not in NOT_PUBLIC]


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _members(cls: type) -> list[str]:
    """A class's public surface: its fields for a pydantic model (its methods are pydantic's and
    Ray's validators), else its public methods and properties."""
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict) and hasattr(cls, "model_validate"):
        return sorted(fields)
    return _public(cls)


def _classes(surface: str, their_module: Any, our_module: Any, names: list[str]) -> Iterator[tuple]:
    """A surface per class: its public methods and properties."""
    for name in names:
        theirs, ours = getattr(their_module, name, None), getattr(our_module, name, None)
        if inspect.isclass(theirs) and inspect.isclass(ours):
            yield f"{surface}.{name}", theirs, ours, _keep(f"{surface}.{name}", _members(theirs))


def _surfaces() -> Iterator[tuple[str, Any, Any, list[str]]]:
    import ray.util as ru

    import streamdata.util as su

    yield "ray.util", ru, su, _keep("ray.util", list(ru.__all__))
    yield from _classes("ray.util", ru, su, ["ActorPool"])
    pairs = [
        ("ray.util.queue", ["Queue", "Empty", "Full"]),
        ("ray.util.scheduling_strategies", ["PlacementGroupSchedulingStrategy", "NodeAffinitySchedulingStrategy",
                                            "NodeLabelSchedulingStrategy", "In", "NotIn", "Exists", "DoesNotExist"]),
        ("ray.util.placement_group", ["PlacementGroup", "placement_group", "remove_placement_group",
                                      "get_current_placement_group", "placement_group_table",
                                      "get_placement_group"]),
        ("ray.util.multiprocessing", None),
        ("ray.train", None),
        ("ray.train.collective", None),
        ("ray.train.torch", None),
        ("ray.serve", None),
    ]
    for surface, names in pairs:
        theirs = _module(surface)
        try:
            ours = _module(surface.replace("ray.", "streamdata.", 1))
        except ImportError:
            ours = None
        names = _keep(surface, names if names is not None else list(theirs.__all__))
        yield surface, theirs, ours, names
        if ours is not None:
            yield from _classes(surface, theirs, ours, names)
    # Modules whose names (and functions' parameters) are compared, not their classes' members: Ray's
    # router classes carry its routing internals (queue-length caches, actor stubs) and its pydantic
    # models' fields are not class attributes, so a member-by-member comparison says nothing useful
    # there; tests/serve/test_serve_request_router.py and test_serve_celery.py cover the behaviour.
    names_only = [
        ("ray.serve.config", ["GangSchedulingConfig", "GangPlacementStrategy", "GangRuntimeFailurePolicy",
                              "RequestRouterConfig"]),
        ("ray.serve.request_router", ["RequestRouter", "FIFOMixin", "LocalityMixin", "MultiplexMixin",
                                      "PendingRequest", "ReplicaID", "RunningReplica", "ReplicaResult"]),
        ("ray.serve.task_consumer", ["task_consumer", "task_handler", "instantiate_adapter_from_config"]),
        ("ray.serve.schema", ["TaskProcessorConfig", "CeleryAdapterConfig", "TaskResult", "TaskProcessorAdapter",
                              "ReplicaRank"]),
        ("ray.serve.task_processor", ["CeleryTaskProcessorAdapter"]),
        ("ray.serve.async_inference_autoscaling_policy", ["AsyncInferenceAutoscalingPolicy"]),
        ("ray.serve.metrics", ["Counter", "Gauge", "Histogram"]),
        ("ray.data.collate_fn", ["CollateFn", "ArrowBatchCollateFn", "NumpyBatchCollateFn", "PandasBatchCollateFn",
                                 "DefaultCollateFn"]),
    ]
    for surface, names in names_only:
        yield surface, _module(surface), _module(surface.replace("ray.", "streamdata.", 1)), _keep(surface, names)
    import ray.serve.handle as rh

    import streamdata.serve.handle as sh
    for name in ("DeploymentHandle", "DeploymentResponse"):
        yield f"ray.serve.handle.{name}", getattr(rh, name), getattr(sh, name, None), _public(getattr(rh, name))


def find_gaps() -> tuple[set[str], int]:
    """Every gap, and how many names and parameters were compared."""
    return compare(_surfaces(), INTERNAL_CONSTRUCTORS)


def test_ray_util_train_serve_surface_is_matched_or_listed() -> None:
    gaps, compared = find_gaps()
    new = sorted(gaps - KNOWN_GAPS)
    closed = sorted(KNOWN_GAPS - gaps)
    assert not new, f"{len(new)} new gaps against Ray's util/train/serve API (add them, or list them): {new}"
    assert not closed, f"these gaps are closed now; remove them from KNOWN_GAPS: {closed}"
    assert compared > 300  # the comparison really ran over Ray's surface


def test_cloud_only_names_are_really_ray_names() -> None:
    for entry, reason in CLOUD_ONLY.items():
        surface, name = entry.split(":")
        assert reason, f"{entry} needs a reason"
        assert hasattr(_module(surface), name), f"{entry} is not a name of Ray's (remove it from CLOUD_ONLY)"


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    found, total = find_gaps()
    print(f"#: Measured: {total - len(found)} of {total} names and parameters present ({len(found)} gaps)")
    print("KNOWN_GAPS: frozenset[str] = frozenset({")
    for gap in sorted(found):
        print(f"    {gap!r},")
    print("})")
