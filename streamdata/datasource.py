"""Ray's ``ray.data.datasource`` names, for connectors written for Ray:
``from streamdata.datasource import Datasource, Datasink, ReadTask``.

Example:
    >>> from streamdata.datasource import Datasource, ReadTask, BlockMetadata
    >>> import streamdata as sd, pyarrow as pa
    >>> class Two(Datasource):
    ...     def estimate_inmemory_data_size(self):
    ...         return None
    ...     def get_read_tasks(self, parallelism, per_task_row_limit=None):
    ...         meta = BlockMetadata(num_rows=1, size_bytes=8, input_files=None, exec_stats=None)
    ...         return [ReadTask(lambda i=i: [pa.table({"i": [i]})], meta) for i in range(2)]
    >>> sd.read_datasource(Two()).take_all()
    [{'i': 0}, {'i': 1}]
"""

from __future__ import annotations

from streamdata.block_accessor import BlockAccessor
from streamdata.block_metadata import BlockMetadata
from streamdata.configs import FileShuffleConfig
from streamdata.io.datasink import Datasink, WriteResult
from streamdata.io.datasource import Datasource, Reader
from streamdata.io.example_connectors import DummyOutputDatasink, RandomIntRowDatasource
from streamdata.io.file_datasource import FileBasedDatasource
from streamdata.io.file_options import PathPartitionFilter
from streamdata.io.filename_provider import FilenameProvider
from streamdata.io.partitioning import PartitionStyle, Partitioning, PathPartitionParser
from streamdata.io.ray_file_sinks import BlockBasedFileDatasink, RowBasedFileDatasink
from streamdata.io.save_mode import SaveMode
from streamdata.read_task import ReadTask

__all__ = ["BlockAccessor", "BlockBasedFileDatasink", "BlockMetadata", "Datasink", "Datasource", "DummyOutputDatasink",
           "FileBasedDatasource", "RandomIntRowDatasource",
           "FileShuffleConfig", "FilenameProvider", "PartitionStyle", "Partitioning", "PathPartitionFilter", "PathPartitionParser", "ReadTask",
           "Reader", "RowBasedFileDatasink", "SaveMode", "WriteResult"]
