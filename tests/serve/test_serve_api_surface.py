"""Ray Serve's public surface checked against streamdata's: every parameter name of
the Ray Serve functions a program calls must exist here, or be in ``KNOWN_GAPS``
(the exact to-do: the test fails when a gap appears and when one is closed)."""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any, Callable

import pytest

from streamdata import serve

FUNCTIONS = ("deployment", "run", "start", "shutdown", "delete", "status", "get_app_handle",
             "get_deployment_handle", "ingress", "batch", "multiplexed", "get_multiplexed_model_id",
             "get_replica_context")

#: what is not there (deployment options on this list raise NotImplementedError when given)
KNOWN_GAPS = frozenset({
    "deployment(rolling_update_percentage)", "deployment(max_surge_percent)",
    "run(external_scaler_enabled)", "run(controller_options)",
    "start(tracing_config)", "start(controller_options)",
    "get_deployment_handle(_check_exists)", "get_deployment_handle(_record_telemetry)",
    "DeploymentHandle.options(_prefer_local_routing)",
    "DeploymentHandle.options(_by_reference)", "DeploymentHandle.options(request_serialization)",
    "DeploymentHandle.options(response_serialization)",
})


def _params(fn: Callable) -> list[str]:
    return [name for name, p in inspect.signature(fn).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self"]


def _gaps() -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rs = pytest.importorskip("ray.serve")
        from ray.serve.config import HTTPOptions, gRPCOptions
        from ray.serve.handle import DeploymentHandle
    gaps: set[str] = set()
    for name in FUNCTIONS:
        ours = getattr(serve, name, None)
        if ours is None:
            gaps.add(name)
            continue
        gaps |= {f"{name}({p})" for p in _params(getattr(rs, name)) if p not in _params(ours)}
    gaps |= {f"DeploymentHandle.options({p})" for p in _params(DeploymentHandle.options)
             if p not in _params(serve.DeploymentHandle.options)}

    def fields(cls: Any) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    gaps |= {f"HTTPOptions({p})" for p in HTTPOptions.model_fields if p not in fields(serve.HTTPOptions)}
    gaps |= {f"gRPCOptions({p})" for p in _params(gRPCOptions) if p not in fields(serve.gRPCOptions)}
    return gaps


def test_ray_serve_surface() -> None:
    gaps = _gaps()
    assert not gaps - KNOWN_GAPS, f"new gaps: {sorted(gaps - KNOWN_GAPS)}"
    assert not KNOWN_GAPS - gaps, f"closed gaps (remove them from KNOWN_GAPS): {sorted(KNOWN_GAPS - gaps)}"


def test_unsupported_options_say_so() -> None:
    for option in ("rolling_update_percentage", "max_surge_percent"):
        with pytest.raises(NotImplementedError, match=option):
            serve.deployment(**{option: None})(lambda request: "ok")
    with pytest.raises(NotImplementedError, match="request_serialization"):
        serve.DeploymentHandle("D", "app").options(request_serialization="msgpack")
