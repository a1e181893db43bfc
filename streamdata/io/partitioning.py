"""Partition values in file paths (Ray's ``ray.data.datasource.partitioning``).

Two styles, as in Ray: ``"hive"`` (``key=value`` directories, ``/t/year=2024/part-0``) and
``"dir"`` (bare values in a fixed order named by ``field_names``,
``/t/2024/fr/part-0`` with ``base_dir="/t"``, ``field_names=["year", "country"]``). A read
given a :class:`Partitioning` adds the values as columns, typed by ``field_types``, else
strings (as in Ray). :class:`PathPartitionParser` is Ray's callable that parses one path.

Example:
    >>> Partitioning("hive").parse("/data/year=2024/country=fr/part-0.parquet")
    {'year': '2024', 'country': 'fr'}
    >>> p = Partitioning("dir", base_dir="/data", field_names=["year", "country"])
    >>> PathPartitionParser(p)("/data/2024/fr/part-0.parquet")
    {'year': '2024', 'country': 'fr'}
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from streamdata.errors import DataSourceError, PlanError


class PartitionStyle(str, enum.Enum):
    """How partition values are written in paths (Ray's enum)."""

    HIVE = "hive"
    DIRECTORY = "dir"


_STYLES = tuple(s.value for s in PartitionStyle)


@dataclass(frozen=True)
class Partitioning:
    """How partition values are encoded in paths: ``style`` ``"hive"`` or ``"dir"``.

    Args:
        style: ``"hive"`` / ``"dir"`` (or a :class:`PartitionStyle`).
        base_dir: the directory the partition directories are below (``"dir"``: the values are
            the directories between it and the file).
        field_names: the partition keys in path order; required for ``"dir"`` (None skips a
            directory); for ``"hive"`` the number of ``key=value`` directories a path must have.
        field_types: the type of some partition columns (``int``, ``float``, ``str``, ``bool``
            or an Arrow type); the others are inferred.
        filesystem: accepted for Ray's signature (paths are parsed as strings).

    Raises:
        PlanError: an unknown style, or ``"dir"`` without ``field_names``.
    """

    style: Any = "hive"
    base_dir: str | None = None
    field_names: list[str | None] | None = None
    field_types: dict[str, Any] = field(default_factory=dict)
    filesystem: Any = None

    def __post_init__(self) -> None:
        style = str(getattr(self.style, "value", self.style))
        if style not in _STYLES:
            raise PlanError(f"unsupported partitioning style {self.style!r}; supported: {list(_STYLES)}")
        object.__setattr__(self, "style", style)
        if self.field_names is not None:
            object.__setattr__(self, "field_names", list(self.field_names))
        if style == "dir" and not self.field_names:
            raise PlanError("directory partitioning ('dir') needs field_names: the partition key of each "
                            "directory level, in path order")
        object.__setattr__(self, "field_types", dict(self.field_types or {}))

    def parse(self, path: str) -> dict[str, str | None]:
        """Partition key → raw value (None for Hive's null marker) of one file path.

        Raises:
            PlanError: a path with another number of partition directories than ``field_names``.
        """
        directory = posixpath.dirname(path)
        if self.base_dir:
            base = self.base_dir.rstrip("/")
            if directory == base or directory.startswith(base + "/"):
                directory = directory[len(base):]
        parts = [part for part in directory.split("/") if part]
        if self.style == "dir":
            names = self.field_names or []
            if len(parts) != len(names):
                raise PlanError(f"{path}: directory partitioning expects {len(names)} partition value(s) "
                                f"({names}) below {self.base_dir or '/'}, found {len(parts)}: {parts}")
            return {name: _value(unquote(part)) for name, part in zip(names, parts) if name is not None}
        out: dict[str, str | None] = {}
        for part in parts:
            if "=" in part and not part.startswith("="):
                key, value = part.split("=", 1)
                out[unquote(key)] = _value(unquote(value))
        if self.field_names is not None and len(out) != len(self.field_names):
            raise PlanError(f"{path}: hive partitioning expects {len(self.field_names)} key=value "
                            f"directories ({self.field_names}), found {len(out)}: {list(out)}")
        return out


def _value(raw: str) -> str | None:
    return None if raw in ("__HIVE_DEFAULT_PARTITION__", "") else raw


class PathPartitionParser:
    """Ray's parser of one path's partition values: ``PathPartitionParser(partitioning)(path)``
    (typed by the partitioning's ``field_types``)."""

    def __init__(self, partitioning: Partitioning) -> None:
        self._partitioning = normalize_partitioning(partitioning)

    def __call__(self, path: str) -> dict[str, Any]:
        values = self._partitioning.parse(path)
        types = self._partitioning.field_types
        return {k: (v if v is None or k not in types else _convert(v, _to_arrow_type(types[k]), k))
                for k, v in values.items()}


def normalize_partitioning(partitioning: Any) -> Partitioning | None:
    """``"hive"`` / a :class:`Partitioning` / a Ray-like one / None, as a Partitioning or None."""
    if partitioning is None or isinstance(partitioning, Partitioning):
        return partitioning
    if isinstance(partitioning, str):
        return Partitioning(partitioning)
    style = getattr(partitioning, "style", None)  # a Ray-like Partitioning object
    if isinstance(style, str):
        return Partitioning(style, getattr(partitioning, "base_dir", None),
                            getattr(partitioning, "field_names", None),
                            dict(getattr(partitioning, "field_types", None) or {}))
    raise PlanError(f"partitioning must be 'hive', 'dir', a Partitioning or None, got {partitioning!r}")


def _to_arrow_type(t: Any) -> pa.DataType:
    if isinstance(t, pa.DataType):
        return t
    mapping = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}
    if t in mapping:
        return mapping[t]
    return pa.from_numpy_dtype(t)


def partition_values(partitioning: Partitioning | None,
                     paths: Sequence[str]) -> tuple[pa.Schema, list[dict[str, Any]]]:
    """The partition schema of a set of files and each file's typed partition values.

    A key in the partitioning's ``field_types`` gets that type; any other key is a string
    (Ray's rule). Paths with no partition directories give an empty schema, so nothing is
    added.

    Example:
        >>> partition_values(Partitioning(), ["/d/k=1/a", "/d/k=09/b"])[1]
        [{'k': '1'}, {'k': '09'}]
        >>> schema, values = partition_values(Partitioning(field_types={"k": int}), ["/d/k=09/a"])
        >>> schema.field("k").type, values
        (DataType(int64), [{'k': 9}])
    """
    if partitioning is None or not paths:
        return pa.schema([]), [{} for _ in paths]
    raw = [partitioning.parse(p) for p in paths]
    keys: dict[str, None] = {}
    for r in raw:
        for k in r:
            keys.setdefault(k, None)
    fields = []
    for k in keys:
        fields.append(pa.field(k, _to_arrow_type(partitioning.field_types[k]) if k in partitioning.field_types
                               else pa.string()))
    schema = pa.schema(fields)
    typed: list[dict[str, Any]] = []
    for r in raw:
        row = {}
        for f in schema:
            v = r.get(f.name)
            row[f.name] = None if v is None else _convert(v, f.type, f.name)
        typed.append(row)
    return schema, typed


def _convert(value: str, type_: pa.DataType, name: str) -> Any:
    try:
        if pa.types.is_integer(type_):
            return int(value)
        if pa.types.is_floating(type_):
            return float(value)
        if pa.types.is_boolean(type_):
            return value.lower() in ("true", "1", "yes")
        if pa.types.is_string(type_) or pa.types.is_large_string(type_):
            return value
        return pa.scalar(value).cast(type_).as_py()
    except (ValueError, pa.ArrowInvalid) as exc:
        raise DataSourceError(f"partition value {name}={value!r} is not a {type_}") from exc


def add_partition_columns(table: pa.Table, schema: pa.Schema, values: dict[str, Any]) -> pa.Table:
    """Append constant partition columns to a block (a column the file already has wins).

    Example:
        >>> t = add_partition_columns(pa.table({"x": [1, 2]}), pa.schema([("k", pa.int64())]), {"k": 7})
        >>> t.to_pydict()
        {'x': [1, 2], 'k': [7, 7]}
    """
    for f in schema:
        if f.name in table.column_names:
            continue
        table = table.append_column(f, pa.repeat(pa.scalar(values.get(f.name), type=f.type), table.num_rows))
    return table


__all__ = ["PartitionStyle", "Partitioning", "PathPartitionParser", "add_partition_columns", "normalize_partitioning",
           "partition_values"]
