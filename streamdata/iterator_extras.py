"""The rest of Ray's ``DataIterator``: ``materialize``, ``schema``, ``get_context``,
``to_torch`` (a torch ``IterableDataset``), and TensorFlow / JAX batches.

:class:`IteratorExtrasMixin` is part of :class:`~streamdata.iterator.DataIterator`.

Part of the facade. May import: base modules and :mod:`streamdata.execution`; never the
Dataset's module (which imports this one through the iterator).

Example:
    >>> import streamdata as sd
    >>> it = sd.range(3).iterator()
    >>> it.schema().names, it.materialize().count()
    (['id'], 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Iterator, Sequence, TypeVar

from streamdata import execution
from streamdata.context import DataContext
from streamdata.errors import PlanError
from streamdata.lazy import require
from streamdata.schema import Schema, as_schema

#: the class :meth:`~IteratorExtrasMixin.materialize` returns (the dataset's: a Dataset's
#: iterator is a ``DataIterator[MaterializedDataset]``)
MaterializedT = TypeVar("MaterializedT")


class IteratorExtrasMixin(Generic[MaterializedT]):
    """Materializing, describing and framework hand-offs of a DataIterator."""

    _source: Any
    _dataset_type: Any

    if TYPE_CHECKING:  # pragma: no cover
        def _iter_bundles(self) -> Iterator[execution.RefBundle]: ...
        def iter_batches(self, **kwargs: Any) -> Iterator[Any]: ...

    def materialize(self) -> MaterializedT:
        """Every row of one pass of this iterator, kept in the object store.

        Example:
            >>> import streamdata as sd
            >>> sd.range(4).iterator().materialize().take_all()[-1]
            {'id': 3}
        """
        import dataclasses
        bundles = [dataclasses.replace(b, owns_blocks=False) for b in self._iter_bundles()]
        schema = next((m.schema for b in bundles for m in b.metadata() if m.schema is not None),
                      None)
        if schema is None:
            schema = getattr(self._source, "schema", None)
            schema = None if callable(schema) else schema
        return self._dataset_type._materialized(tuple(bundles), schema)

    def schema(self) -> Schema | None:
        """The schema of the rows this iterator yields (None when unknown without running).

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1}]).iterator().schema().names
            ['a']
        """
        if isinstance(self._source, execution.SplitSource):
            return as_schema(self._source.schema)
        return self._source.schema()

    def get_context(self) -> DataContext:
        """The data context the iterator's executions run with."""
        return DataContext.get_current()

    def to_torch(self, *, label_column: str | None = None,
                 feature_columns: Sequence[str] | Sequence[Sequence[str]] | dict[str, Sequence[str]]
                 | None = None, label_column_dtype: Any = None,
                 feature_column_dtypes: Any = None, batch_size: int = 1,
                 prefetch_batches: int = 1, drop_last: bool = False,
                 local_shuffle_buffer_size: int | None = None,
                 local_shuffle_seed: int | None = None, unsqueeze_label_tensor: bool = True,
                 unsqueeze_feature_tensors: bool = True) -> Any:
        """A ``torch.utils.data.IterableDataset`` of ``(features, label)`` batches.

        ``feature_columns``: a list of columns (stacked into one ``(batch, n)`` tensor), a
        list of lists (a list of such tensors) or a dict of lists (a dict of them); None:
        every column but the label. ``label`` is None without ``label_column``.

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"x": 1.0, "y": 0}, {"x": 2.0, "y": 1}])
            >>> feats, label = next(iter(ds.iterator().to_torch(label_column="y", batch_size=2)))
            >>> feats.shape, label.tolist()
            (torch.Size([2, 1]), [[0], [1]])
        """
        torch = require("torch", "torch", "to_torch")
        it = self

        def tensor(batch: dict[str, Any], cols: Sequence[str], dtype: Any) -> Any:
            parts = []
            for c in cols:
                if c not in batch:
                    from streamdata.errors import ColumnNotFoundError
                    raise ColumnNotFoundError(c, list(batch))
                t = torch.as_tensor(batch[c].copy() if not batch[c].flags.writeable else batch[c])
                if unsqueeze_feature_tensors and t.dim() == 1:
                    t = t.unsqueeze(1)
                parts.append(t)
            out = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            return out.to(dtype) if dtype is not None else out

        def features(batch: dict[str, Any]) -> Any:
            if feature_columns is None:
                cols = [c for c in batch if c != label_column]
                return tensor(batch, cols, feature_column_dtypes)
            if isinstance(feature_columns, dict):
                return {k: tensor(batch, list(v), _pick(feature_column_dtypes, k))
                        for k, v in feature_columns.items()}
            if feature_columns and not isinstance(feature_columns[0], str):
                return [tensor(batch, list(v), _pick(feature_column_dtypes, i))
                        for i, v in enumerate(feature_columns)]
            return tensor(batch, list(feature_columns), feature_column_dtypes)

        class _TorchIterable(torch.utils.data.IterableDataset):  # type: ignore[name-defined]
            def __iter__(self) -> Iterator[Any]:
                for batch in it.iter_batches(
                        batch_size=batch_size, batch_format="numpy",
                        prefetch_batches=prefetch_batches, drop_last=drop_last,
                        local_shuffle_buffer_size=local_shuffle_buffer_size,
                        local_shuffle_seed=local_shuffle_seed):
                    label = None
                    if label_column is not None:
                        label = torch.as_tensor(batch[label_column].copy())
                        if label_column_dtype is not None:
                            label = label.to(label_column_dtype)
                        if unsqueeze_label_tensor and label.dim() == 1:
                            label = label.unsqueeze(1)
                    yield features(batch), label

        return _TorchIterable()

    def iter_tf_batches(self, *, prefetch_batches: int = 1, batch_size: int | None = 256,
                        dtypes: Any = None, drop_last: bool = False,
                        local_shuffle_buffer_size: int | None = None,
                        local_shuffle_seed: int | None = None) -> Iterator[Any]:
        """Batches as dicts of ``tf.Tensor`` (needs tensorflow)."""
        tf = require("tensorflow", "tensorflow", "iter_tf_batches")
        for batch in self.iter_batches(batch_size=batch_size, prefetch_batches=prefetch_batches,
                                       drop_last=drop_last,
                                       local_shuffle_buffer_size=local_shuffle_buffer_size,
                                       local_shuffle_seed=local_shuffle_seed):
            yield {k: tf.convert_to_tensor(v, dtype=_pick(dtypes, k)) for k, v in batch.items()}

    def iter_jax_batches(self, *, prefetch_batches: int = 1, batch_size: int | None = 256,
                         dtypes: Any = None, collate_fn: Any = None, drop_last: bool = False,
                         local_shuffle_buffer_size: int | None = None,
                         local_shuffle_seed: int | None = None, synchronize_batches: bool = False,
                         paddings: Any = None) -> Iterator[Any]:
        """Batches as dicts of ``jax.Array`` (needs jax); ``collate_fn`` makes the batch
        from the numpy one instead. ``synchronize_batches`` / ``paddings`` line up
        batches across the hosts of a multi-host JAX job (one host here: accepted)."""
        jnp = require("jax.numpy", "jax", "iter_jax_batches")
        for batch in self.iter_batches(batch_size=batch_size, prefetch_batches=prefetch_batches,
                                       drop_last=drop_last,
                                       local_shuffle_buffer_size=local_shuffle_buffer_size,
                                       local_shuffle_seed=local_shuffle_seed):
            if collate_fn is not None:
                yield collate_fn(batch)
            else:
                yield {k: jnp.asarray(v, dtype=_pick(dtypes, k)) for k, v in batch.items()}

    def to_tf(self, feature_columns: str | Sequence[str], label_columns: str | Sequence[str], *,
              additional_columns: str | Sequence[str] | None = None, prefetch_batches: int = 1,
              batch_size: int = 1, drop_last: bool = False,
              local_shuffle_buffer_size: int | None = None,
              local_shuffle_seed: int | None = None, feature_type_spec: Any = None,
              label_type_spec: Any = None, additional_type_spec: Any = None) -> Any:
        """A ``tf.data.Dataset`` of ``(features, labels[, additional])`` batches (needs
        tensorflow); each pass over it is one pass of this iterator."""
        tf = require("tensorflow", "tensorflow", "to_tf")
        groups = [feature_columns, label_columns] + (
            [additional_columns] if additional_columns is not None else [])
        schema = self.schema()
        if schema is not None:
            for group in groups:
                for col in [group] if isinstance(group, str) else list(group):
                    if col not in schema.names:
                        from streamdata.errors import ColumnNotFoundError
                        raise ColumnNotFoundError(col, schema.names)

        def pick(batch: dict[str, Any], cols: Any) -> Any:
            return batch[cols] if isinstance(cols, str) else {c: batch[c] for c in cols}

        def gen() -> Iterator[Any]:
            for batch in self.iter_batches(batch_size=batch_size, drop_last=drop_last,
                                           prefetch_batches=prefetch_batches,
                                           local_shuffle_buffer_size=local_shuffle_buffer_size,
                                           local_shuffle_seed=local_shuffle_seed):
                yield tuple(pick(batch, g) for g in groups)

        first = next(gen(), None)
        if first is None:
            raise PlanError("to_tf: the dataset is empty")
        specs = [feature_type_spec, label_type_spec, additional_type_spec][:len(groups)]
        signature = tuple(s if s is not None else tf.nest.map_structure(
            lambda v: tf.TensorSpec(shape=(None, *v.shape[1:]), dtype=v.dtype), f)
            for s, f in zip(specs, first))
        return tf.data.Dataset.from_generator(gen, output_signature=signature)


def _pick(spec: Any, key: Any) -> Any:
    if isinstance(spec, dict):
        return spec.get(key)
    if isinstance(spec, (list, tuple)):
        return spec[key] if isinstance(key, int) and key < len(spec) else None
    return spec


__all__ = ["IteratorExtrasMixin"]
