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

#: Ray Core names a Ray program calls (the rest of ``dir(ray)`` is modules and internals).
CORE_NAMES = (
    "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "cancel", "kill", "get_actor",
    "get_gpu_ids", "available_resources", "cluster_resources", "nodes", "timeline", "method",
    "get_runtime_context", "ObjectRef", "ObjectRefGenerator",
)

#: The exact to-do list (see the module docstring). Entries: "surface:name" for a missing name,
#: "surface:name(param)" for a missing parameter.
#: Measured: 1416 of 1535 names and parameters present (119 gaps)
KNOWN_GAPS: frozenset[str] = frozenset({
    'Dataset:map_batches_internal',
    'Dataset:write_orc',
    'core:ObjectRefGenerator',
    'core:cancel(ray_waitable)',
    'core:get(object_refs)',
    'core:get_runtime_context',
    'core:init(cgroup_path)',
    'core:init(configure_logging)',
    'core:init(dashboard_host)',
    'core:init(dashboard_port)',
    'core:init(enable_resource_isolation)',
    'core:init(include_dashboard)',
    'core:init(job_config)',
    'core:init(labels)',
    'core:init(local_mode)',
    'core:init(log_to_driver)',
    'core:init(logging_config)',
    'core:init(logging_format)',
    'core:init(logging_level)',
    'core:init(namespace)',
    'core:init(proxy_server_url)',
    'core:init(runtime_env)',
    'core:init(system_reserved_cpu)',
    'core:init(system_reserved_memory)',
    'core:nodes',
    'core:shutdown(wait_for_processes)',
    'core:timeline',
    'core:wait(ray_waitables)',
    'ray.data:Catalog',
    'ray.data:CatalogAccessMode',
    'ray.data:ReaderFormat',
    'ray.data:ResolvedSource',
    'ray.data:read_binary_files(accelerator_type)',
    'ray.data:read_binary_files(arrow_open_stream_args)',
    'ray.data:read_binary_files(fallback_strategy)',
    'ray.data:read_binary_files(ignore_missing_paths)',
    'ray.data:read_binary_files(label_selector)',
    'ray.data:read_binary_files(max_calls)',
    'ray.data:read_binary_files(memory)',
    'ray.data:read_binary_files(num_cpus)',
    'ray.data:read_binary_files(num_gpus)',
    'ray.data:read_binary_files(partition_filter)',
    'ray.data:read_binary_files(resources)',
    'ray.data:read_binary_files(runtime_env)',
    'ray.data:read_binary_files(shuffle)',
    'ray.data:read_csv(accelerator_type)',
    'ray.data:read_csv(arrow_open_stream_args)',
    'ray.data:read_csv(fallback_strategy)',
    'ray.data:read_csv(ignore_missing_paths)',
    'ray.data:read_csv(label_selector)',
    'ray.data:read_csv(max_calls)',
    'ray.data:read_csv(memory)',
    'ray.data:read_csv(num_cpus)',
    'ray.data:read_csv(num_gpus)',
    'ray.data:read_csv(partition_filter)',
    'ray.data:read_csv(resources)',
    'ray.data:read_csv(runtime_env)',
    'ray.data:read_csv(shuffle)',
    'ray.data:read_images(accelerator_type)',
    'ray.data:read_images(arrow_open_file_args)',
    'ray.data:read_images(fallback_strategy)',
    'ray.data:read_images(ignore_missing_paths)',
    'ray.data:read_images(label_selector)',
    'ray.data:read_images(max_calls)',
    'ray.data:read_images(memory)',
    'ray.data:read_images(num_cpus)',
    'ray.data:read_images(num_gpus)',
    'ray.data:read_images(partition_filter)',
    'ray.data:read_images(resources)',
    'ray.data:read_images(runtime_env)',
    'ray.data:read_images(shuffle)',
    'ray.data:read_json(accelerator_type)',
    'ray.data:read_json(arrow_open_stream_args)',
    'ray.data:read_json(fallback_strategy)',
    'ray.data:read_json(ignore_missing_paths)',
    'ray.data:read_json(label_selector)',
    'ray.data:read_json(lines)',
    'ray.data:read_json(max_calls)',
    'ray.data:read_json(memory)',
    'ray.data:read_json(num_cpus)',
    'ray.data:read_json(num_gpus)',
    'ray.data:read_json(partition_filter)',
    'ray.data:read_json(resources)',
    'ray.data:read_json(runtime_env)',
    'ray.data:read_json(shuffle)',
    'ray.data:read_numpy(allow_pickle)',
    'ray.data:read_numpy(arrow_open_stream_args)',
    'ray.data:read_numpy(ignore_missing_paths)',
    'ray.data:read_numpy(partition_filter)',
    'ray.data:read_numpy(shuffle)',
    'ray.data:read_parquet(accelerator_type)',
    'ray.data:read_parquet(catalog)',
    'ray.data:read_parquet(fallback_strategy)',
    'ray.data:read_parquet(ignore_missing_paths)',
    'ray.data:read_parquet(include_row_hash)',
    'ray.data:read_parquet(label_selector)',
    'ray.data:read_parquet(max_calls)',
    'ray.data:read_parquet(memory)',
    'ray.data:read_parquet(num_cpus)',
    'ray.data:read_parquet(num_gpus)',
    'ray.data:read_parquet(partition_filter)',
    'ray.data:read_parquet(resources)',
    'ray.data:read_parquet(runtime_env)',
    'ray.data:read_parquet(shuffle)',
    'ray.data:read_parquet(skip_paths)',
    'ray.data:read_parquet(tensor_column_schema)',
    'ray.data:read_text(accelerator_type)',
    'ray.data:read_text(arrow_open_stream_args)',
    'ray.data:read_text(fallback_strategy)',
    'ray.data:read_text(ignore_missing_paths)',
    'ray.data:read_text(label_selector)',
    'ray.data:read_text(max_calls)',
    'ray.data:read_text(memory)',
    'ray.data:read_text(num_cpus)',
    'ray.data:read_text(num_gpus)',
    'ray.data:read_text(partition_filter)',
    'ray.data:read_text(resources)',
    'ray.data:read_text(runtime_env)',
    'ray.data:read_text(shuffle)',
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
    yield "Dataset", rd.Dataset, sd.Dataset, [n for n in _public(rd.Dataset) if n not in CLOUD_ONLY]
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


def find_gaps() -> tuple[set[str], int]:
    """Every gap, and how many names and parameters were compared."""
    gaps: set[str] = set()
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for surface, theirs, ours, names in _surfaces():
            for name in names:
                compared += 1
                if not hasattr(ours, name):
                    gaps.add(f"{surface}:{name}")
                    continue
                their_obj, our_obj = getattr(theirs, name, None), getattr(ours, name)
                if not callable(their_obj) or not callable(our_obj) or name in INTERNAL_CONSTRUCTORS:
                    continue
                their_params = _param_names(their_obj)
                our_params = _param_names(our_obj)
                if their_params is None or our_params is None:
                    continue
                for param in their_params:
                    compared += 1
                    if param not in our_params:
                        gaps.add(f"{surface}:{name}({param})")
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
