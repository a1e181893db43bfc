"""Gaps the ``data_code`` probe found in Ray's newer ``doc/source/data/doc_code`` files.

``custom_datasource.py`` writes a MongoDB source for Ray's older interface: a ``Reader`` subclass
(imported from ``ray.data.datasource.datasource``) returned by ``Datasource.create_reader(**args)``,
with no ``get_read_tasks`` on the source. Ray 2.60 still reads such a source (with a deprecation
warning): ``read_datasource(source, **read_args)`` binds ``create_reader(**read_args)``.
"""

from __future__ import annotations

import importlib

import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import PlanError
from streamdata.io.datasource import ReaderDatasource, bind_reader, uses_reader

COLLECTIONS = {"db.people": [{"name": "ada", "age": 36}, {"name": "alan", "age": 41}, {"name": "grace", "age": 85}]}


def _query(collection: str, pipeline: dict) -> pa.Table:
    rows = [r for r in COLLECTIONS[collection] if r["age"] >= pipeline["min_age"]]
    return pa.Table.from_pylist(rows, schema=pa.schema([("name", pa.string()), ("age", pa.int64())]))


def _mongo_like_source():
    """The doc's MongoDatasource, reading a dict instead of MongoDB (same classes, same imports)."""
    datasource_mod = importlib.import_module("streamdata.data.datasource.datasource")
    from streamdata.data.block import BlockMetadata

    class _Reader(datasource_mod.Reader):
        def __init__(self, collection, pipelines):
            self._collection, self._pipelines = collection, pipelines

        def get_read_tasks(self, parallelism):
            meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
            return [datasource_mod.ReadTask(lambda c=self._collection, p=p: [_query(c, p)], meta)
                    for p in self._pipelines]

    class MongoLikeDatasource(datasource_mod.Datasource):
        def create_reader(self, collection, pipelines):
            return _Reader(collection, pipelines)

    return MongoLikeDatasource()


def test_reader_imports_from_rays_paths():
    for path in ("streamdata.data.datasource.datasource", "streamdata.data.datasource", "streamdata.datasource"):
        assert importlib.import_module(path).Reader is importlib.import_module("streamdata.io.datasource").Reader


def test_a_source_with_create_reader_reads_with_the_read_arguments():
    source = _mongo_like_source()
    with pytest.warns(DeprecationWarning, match="create_reader is deprecated"):
        ds = sd.read_datasource(source, collection="db.people", pipelines=[{"min_age": 40}, {"min_age": 80}])
    assert sorted(r["name"] for r in ds.take_all()) == ["alan", "grace", "grace"]


def test_the_bound_reader_keeps_the_source_name_and_unknown_size():
    source = _mongo_like_source()
    assert uses_reader(source)
    with pytest.warns(DeprecationWarning):
        bound = bind_reader(source, {"collection": "db.people", "pipelines": [{"min_age": 0}]})
    assert isinstance(bound, ReaderDatasource) and not uses_reader(bound)
    assert bound.name == source.name and bound.estimate_inmemory_data_size() is None
    assert [t.num_rows for task in bound.get_read_tasks(4) for t in task()] == [3]


def test_a_source_with_only_prepare_read_reads():
    from streamdata.datasource import BlockMetadata, Datasource, ReadTask

    class Oldest(Datasource):
        def prepare_read(self, parallelism, n):
            meta = BlockMetadata(num_rows=1, size_bytes=8, input_files=None, exec_stats=None)
            return [ReadTask(lambda i=i: [pa.table({"i": [i]})], meta) for i in range(n)]

    with pytest.warns(DeprecationWarning):
        ds = sd.read_datasource(Oldest(), n=3)
    assert sorted(r["i"] for r in ds.take_all()) == [0, 1, 2]


def test_a_source_with_no_read_method_is_a_clear_error():
    from streamdata.datasource import Datasource

    class Empty(Datasource):
        pass

    with pytest.raises(TypeError, match="Empty implements none of get_read_tasks"):
        sd.read_datasource(Empty())


def test_a_reader_returning_something_else_is_a_clear_error():
    from streamdata.datasource import Datasource

    class Bad(Datasource):
        def create_reader(self):
            return [1, 2]

    with pytest.raises(TypeError, match="Bad.create_reader must return a Reader"):
        with pytest.warns(DeprecationWarning):
            sd.read_datasource(Bad())


def test_read_arguments_to_a_source_with_get_read_tasks_are_an_error_naming_them():
    from streamdata.io.memory import RangeDatasource

    with pytest.raises(PlanError, match=r"\['pipelines'\].*RangeDatasource implements get_read_tasks"):
        sd.read_datasource(RangeDatasource(3), pipelines=[])


def test_rays_types_module_gives_a_subscriptable_object_ref():
    """``from ray.types import ObjectRef`` (custom_datasource.py: ``List[ObjectRef[Block]]``)."""
    types = importlib.import_module("streamdata.types")
    assert types.ObjectRef is sd.ObjectRef and types.ObjectRef[int] is not None
    assert isinstance(sd.put(1), types.ObjectRef)
