"""streamdata: a streaming data-processing engine for ML and AI workloads.

``import streamdata as sd`` gives Ray Core's runtime API (embedded, no cluster
needed) and Ray Data's Dataset API, under Ray's names.

Example:
    >>> import streamdata as sd
    >>> @sd.remote
    ... def square(x):
    ...     return x * x
    >>> sd.get([square.remote(i) for i in (0, 1, 2, 3)])
    [0, 1, 4, 9]
    >>> sd.range(5).map(lambda row: {"sq": row["id"] ** 2}).take_all()
    [{'sq': 0}, {'sq': 1}, {'sq': 4}, {'sq': 9}, {'sq': 16}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamdata.core import forkserver as _forkserver

# the workers' template process starts importing now, beside this import and whatever the
# script does before its first query (sd.init adopts it)
_forkserver.prestart()

from streamdata.lazy import collector_paused as _collector_paused
from streamdata.lazy import lazy_attributes

with _collector_paused():  # its collections would find next to no garbage
    from streamdata import exceptions
    from streamdata.context import DataContext
    from streamdata.core import api as _core_api
    from streamdata.core.api import (
        ActorClass,
        ActorHandle,
        DynamicObjectRefGenerator,
        ObjectRef,
        ObjectRefGenerator,
        PlacementGroup,
        PlacementGroupSchedulingStrategy,
        available_resources,
        cancel,
        cluster_resources,
        get,
        get_actor,
        get_gpu_ids,
        get_runtime_context,
        init,
        is_initialized,
        kill,
        method,
        nodes,
        object_store_stats,
        placement_group,
        placement_group_table,
        put,
        remote,
        remove_placement_group,
        shutdown,
        timeline,
        wait,
    )
    from streamdata.dataset import Dataset, MaterializedDataset
    from streamdata.expressions import col, lit
    from streamdata.grouped import GroupedData
    from streamdata.iterator import DataIterator
    from streamdata.plan.logical import ActorPoolStrategy, TaskPoolStrategy
    from streamdata.configs import FileShuffleConfig, MixStoppingCondition, RandomSeedConfig, SinkMode
    from streamdata.context_options import ExecutionOptions, ExecutionResources
    from streamdata.dataset_meta import list_stats_summaries
    from streamdata.preprocessor import Preprocessor
    from streamdata.read_refs import (
        from_arrow_refs, from_blocks, from_mars, from_modin, from_numpy_refs, from_pandas_refs, from_tf,
    )
    from streamdata.schema import Schema
    from streamdata.catalog import Catalog, CatalogAccessMode, ReaderFormat, ResolvedSource
    from streamdata.summary import DatasetSummary
    from streamdata.read_api import (
        from_arrow,
        from_items,
        from_numpy,
        from_pandas,
        range,
        range_tensor,
        read_binary_files,
        read_csv,
        read_datasource,
        read_images,
        read_json,
        read_numpy,
        read_parquet,
        read_text,
    )
    from streamdata.block_metadata import BlockMetadata  # noqa: E402
    from streamdata.read_task import ReadTask  # noqa: E402

#: Ray Data's older names of the context and the iterator
DatasetContext = DataContext
DatasetIterator = DataIterator
#: a node id (one node here: the local machine's)
NodeIdStr = str

__version__ = "0.1.0"

if TYPE_CHECKING:
    from streamdata import actor, aggregate, air, cloudpickle, serve, train, util
    from streamdata.io.datasink import Datasink, WriteResult
    from streamdata.io.datasource import Datasource
    from streamdata.core.logging_config import LoggingConfig
    from streamdata.io.ray_file_sinks import BlockBasedFileDatasink, RowBasedFileDatasink
    from streamdata.io.save_mode import SaveMode
    from streamdata.read_connectors import (
        from_daft, from_dask, from_huggingface, from_spark, from_torch, read_audio, read_avro, read_delta,
        read_hudi, read_iceberg, read_lance, read_orc, read_sql, read_tfrecords, read_videos,
        read_webdataset, read_zarr,
    )

#: what ``import streamdata`` leaves for first use, so a script starts instantly: the
#: subpackages (``sd.serve``, ``sd.train``, ``sd.util``, ``sd.aggregate``), Ray's
#: ``ray.cloudpickle`` (``sd.cloudpickle``) and ``ray.actor`` (``sd.actor``), and the connectors,
#: each imported when first named
_LAZY = {
    **{name: f"streamdata.{name}" for name in ("actor", "aggregate", "air", "serve", "train", "util", "data",
                                               "cloudpickle")},
    **{name: f"streamdata.read_connectors:{name}" for name in (
        "from_daft", "from_dask", "from_huggingface", "from_spark", "from_torch", "read_audio", "read_avro",
        "read_delta", "read_hudi", "read_iceberg", "read_lance", "read_orc", "read_sql", "read_tfrecords",
        "read_videos", "read_webdataset", "read_zarr")},
    "BlockBasedFileDatasink": "streamdata.io.ray_file_sinks:BlockBasedFileDatasink",
    "RowBasedFileDatasink": "streamdata.io.ray_file_sinks:RowBasedFileDatasink",
    "SaveMode": "streamdata.io.save_mode:SaveMode",
    "Datasink": "streamdata.io.datasink:Datasink",
    "WriteResult": "streamdata.io.datasink:WriteResult",
    "Datasource": "streamdata.io.datasource:Datasource",
    "LoggingConfig": "streamdata.core.logging_config:LoggingConfig",
}
__getattr__ = lazy_attributes(__name__, globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _start_monitoring(runtime: object, **options: object) -> object:
    """Start the dashboard / metrics endpoint ``sd.init`` asked for (loaded only then)."""
    from streamdata.observability.start import start
    return start(runtime, **options)  # type: ignore[arg-type]


_core_api.set_monitoring_starter(_start_monitoring)


__all__ = [
    # runtime (Ray Core's names)
    "init", "shutdown", "is_initialized", "remote", "method", "get", "put", "wait", "cancel", "kill",
    "get_actor", "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats",
    "get_runtime_context", "nodes", "timeline", "ObjectRefGenerator",
    "DynamicObjectRefGenerator", "placement_group", "remove_placement_group", "placement_group_table", "PlacementGroup",
    "PlacementGroupSchedulingStrategy", "ObjectRef", "ActorHandle", "ActorClass", "exceptions", "LoggingConfig",
    # hooks for training and serving (Ray Train's and Ray Serve's names)
    "train", "serve",
    # data (Ray Data's names)
    "DataContext", "Dataset", "MaterializedDataset", "GroupedData", "DataIterator", "ActorPoolStrategy",
    "TaskPoolStrategy", "aggregate", "col", "lit",
    "read_parquet", "read_csv", "read_json", "read_text", "read_binary_files", "read_images", "read_numpy",
    "read_datasource", "range", "range_tensor", "from_items", "from_pandas", "from_arrow", "from_numpy",
    "from_blocks", "from_arrow_refs", "from_numpy_refs", "from_pandas_refs", "Schema", "DatasetSummary",
    "ExecutionOptions", "ExecutionResources", "DatasetContext", "DatasetIterator", "NodeIdStr",
    "SinkMode", "MixStoppingCondition", "FileShuffleConfig", "RandomSeedConfig",
    "Catalog", "CatalogAccessMode", "ReaderFormat", "ResolvedSource",
    "list_stats_summaries", "Preprocessor", "from_modin", "from_mars", "from_tf",
    # connectors (Ray Data's names)
    "read_sql", "read_lance", "read_iceberg", "read_delta", "read_hudi", "read_avro", "read_tfrecords",
    "read_webdataset", "read_zarr", "read_audio", "read_videos", "from_huggingface", "from_torch", "from_dask",
    "from_daft", "from_spark", "Datasource", "Datasink", "ReadTask", "BlockMetadata", "WriteResult", "read_orc",
    "SaveMode", "BlockBasedFileDatasink", "RowBasedFileDatasink",
]
