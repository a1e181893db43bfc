"""The ``DataContext`` fields of Ray Data that streamdata accepts and ignores.

A Ray program sets knobs on ``DataContext.get_current()``; every one of Ray's fields
exists here with Ray's default, so such programs run unchanged. The fields that mean
something on one machine are real fields of :class:`~streamdata.context.DataContext`
(documented there). The ones below are accepted, kept, and have no effect, for the
reason given by their group:

========================  =====================================================================
group                     why it has no effect here
========================  =====================================================================
``shuffle``               knobs of Ray's hash / push-based / GPU shuffle implementations;
                          streamdata's shuffle is its own (``shuffle_num_partitions`` sizes it)
``cluster``               placement and scheduling across the nodes of a Ray cluster (one
                          machine here)
``actors``                retry and start-up policy of Ray's actor pools (streamdata restarts
                          a dead pool actor and replays its calls)
``retries``               Ray's retry lists for cloud-storage errors and map tasks
                          (streamdata retries a failed task 3 times, and ``max_errored_blocks``
                          decides about the rest)
``memory``                Ray's object-store reservation and backpressure tuning
                          (``execution_object_store_share`` / ``execution_memory_limit`` and
                          ``execution_options.resource_limits`` are the knobs here)
``blocks``                block and tensor formats of Ray's internals (blocks are always Arrow
                          tables here, tensors Arrow extension arrays)
``progress``              Ray's progress-bar renderers and metrics export (``enable_progress_bars``
                          switches streamdata's bars)
``connectors``            per-connector retry configs (Lance, Iceberg, Delta) and S3 helpers
``stats``                 Ray's stats collection and logging hooks (``verbose_stats_logs``,
                          ``enable_auto_log_stats`` and ``enable_stats_summary_collection``
                          are honoured)
========================  =====================================================================

Example:
    >>> names = {name for name, _, _ in ACCEPTED_FIELDS}
    >>> "use_push_based_shuffle" in names, "execution_options" in names
    (True, False)
"""

from __future__ import annotations

import copy
from dataclasses import field, make_dataclass
from typing import Any

_AWS = ("AWS Error INTERNAL_FAILURE", "AWS Error NETWORK_CONNECTION", "AWS Error SLOW_DOWN",
        "AWS Error UNKNOWN (HTTP status 503)")

#: (field, Ray's default, group): accepted, kept, no effect (see the module docstring).
#: Ray's config objects (autoscaling, Lance, Iceberg, Delta, issue detectors) default to
#: None here.
ACCEPTED_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("use_push_based_shuffle", False, "shuffle"),
    ("pipeline_push_based_shuffle_reduce_tasks", True, "shuffle"),
    ("default_hash_shuffle_parallelism", 200, "shuffle"),
    ("shuffle_compression", "zstd", "shuffle"),
    ("hash_shuffle_reduce_batch_size", 16, "shuffle"),
    ("hash_shuffle_reduce_get_timeout_s", 1800.0, "shuffle"),
    ("shuffle_input_batch_bytes", 1024 ** 3, "shuffle"),
    ("max_hash_shuffle_aggregators", None, "shuffle"),
    ("min_hash_shuffle_aggregator_wait_time_in_s", 300, "shuffle"),
    ("hash_shuffle_aggregator_health_warning_interval_s", 30, "shuffle"),
    ("max_hash_shuffle_finalization_batch_size", None, "shuffle"),
    ("join_operator_actor_num_cpus_override", None, "shuffle"),
    ("hash_shuffle_operator_actor_num_cpus_override", None, "shuffle"),
    ("hash_aggregate_operator_actor_num_cpus_override", None, "shuffle"),
    ("use_disk_based_hash_shuffle", False, "shuffle"),
    ("gpu_shuffle_num_actors", None, "shuffle"),
    ("gpu_shuffle_rmm_pool_size", None, "shuffle"),
    ("gpu_shuffle_spill_memory_limit", "auto", "shuffle"),
    ("gpu_shuffle_setup_timeout_s", 120.0, "shuffle"),
    ("use_polars", False, "shuffle"),
    ("use_polars_sort", False, "shuffle"),
    ("scheduling_strategy_large_args", "DEFAULT", "cluster"),
    ("large_args_threshold", 50 * 1024 * 1024, "cluster"),
    ("min_parallelism", 200, "cluster"),
    ("isolate_read_workers", False, "cluster"),
    ("enable_lineage_reconstruction_resource_accounting", True, "cluster"),
    ("autoscaling_config", None, "actors"),
    ("actor_prefetcher_enabled", False, "actors"),
    ("actor_task_retry_on_errors", False, "actors"),
    ("actor_init_retry_on_errors", False, "actors"),
    ("actor_init_max_retries", 3, "actors"),
    ("max_consecutive_actor_init_deaths", 0, "actors"),
    ("wait_for_min_actors_s", -1, "actors"),
    ("write_file_retry_on_errors", _AWS, "retries"),
    ("retried_io_errors", [*_AWS, "AWS Error SERVICE_UNAVAILABLE"], "retries"),
    ("retried_map_errors", False, "retries"),
    ("max_map_retries", 0, "retries"),
    ("raise_original_map_exception", False, "retries"),
    ("execution_no_progress_timeout_s", 1800, "retries"),
    ("op_resource_reservation_enabled", True, "memory"),
    ("op_resource_reservation_ratio", 0.5, "memory"),
    ("output_backpressure_guard_release_interval_s", None, "memory"),
    ("warn_on_driver_memory_usage_bytes", 2 * 1024 ** 3, "memory"),
    ("override_object_store_memory_limit_fraction", None, "memory"),
    ("memory_usage_poll_interval_s", 1, "memory"),
    ("downstream_capacity_backpressure_ratio", 2.0, "memory"),
    ("enable_dynamic_output_queue_size_backpressure", False, "memory"),
    ("default_map_logical_memory_enabled", False, "memory"),
    ("object_store_reservation_overshoot_ratio", None, "memory"),
    ("object_store_memory_pressure_fraction", None, "memory"),
    ("trace_allocations", False, "memory"),
    ("streaming_read_buffer_size", 32 * 1024 * 1024, "blocks"),
    ("enable_pandas_block", True, "blocks"),
    ("decoding_size_estimation", True, "blocks"),
    ("use_datasource_v2", True, "blocks"),
    ("enable_tensor_extension_casting", True, "blocks"),
    ("arrow_fixed_shape_tensor_format", "v2", "blocks"),
    ("use_arrow_tensor_v2", True, "blocks"),
    ("enable_fallback_to_arrow_object_ext_type", None, "blocks"),
    ("enforce_schemas", False, "blocks"),
    ("pandas_block_ignore_metadata", False, "blocks"),
    ("batch_to_block_arrow_format", True, "blocks"),
    ("use_legacy_dataset_ids", False, "blocks"),
    ("use_ray_tqdm", True, "progress"),
    ("enable_operator_progress_bars", True, "progress"),
    ("enable_progress_bar_name_truncation", True, "progress"),
    ("enable_rich_progress_bars", False, "progress"),
    ("enable_get_object_locations_for_metrics", False, "progress"),
    ("enable_per_node_metrics", False, "progress"),
    ("print_on_execution_start", True, "progress"),
    ("lance_config", None, "connectors"),
    ("iceberg_config", None, "connectors"),
    ("delta_config", None, "connectors"),
    ("s3_try_create_dir", False, "connectors"),
    ("accurate_map_phase_timing", False, "stats"),
    ("per_stage_map_timing", False, "stats"),
    ("dataset_logger_id", None, "stats"),
    ("issue_detectors_config", None, "stats"),
    ("custom_execution_callback_classes", [], "stats"),
)


def _factory(default: Any) -> Any:
    return lambda: copy.deepcopy(default)


#: The base class of DataContext holding the accepted fields (each with Ray's default).
AcceptedFields = make_dataclass(
    "AcceptedFields",
    [(name, Any, field(default_factory=_factory(default))) for name, default, _ in ACCEPTED_FIELDS],
)
AcceptedFields.__module__ = __name__
AcceptedFields.__doc__ = "Ray's DataContext fields that streamdata accepts and ignores (see the module)."

__all__ = ["ACCEPTED_FIELDS", "AcceptedFields"]
