"""Ray's file-selection options of the ``read_*`` functions, as pure helpers.

``ignore_missing_paths`` (skip paths that do not exist), ``partition_filter`` (a
:class:`PathPartitionFilter`, or any callable taking and returning a list of paths),
``shuffle`` (None, ``"files"`` or a ``FileShuffleConfig(seed=)``: the order the files are
read in) and ``arrow_open_stream_args`` / ``arrow_open_file_args`` (how each file is opened).

Part of :mod:`streamdata.io`; imports base modules only.

Example:
    >>> f = PathPartitionFilter.of(lambda p: p["year"] == "2024")
    >>> f(["/d/year=2023/a.csv", "/d/year=2024/b.csv"])
    ['/d/year=2024/b.csv']
    >>> shuffle_files(["a", "b", "c", "d"], None)
    ['a', 'b', 'c', 'd']
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from streamdata.errors import PlanError

__all__ = ["PathPartitionFilter", "shuffle_files", "check_open_args", "apply_partition_filter",
           "reader_options"]

#: the keys of ``arrow_open_stream_args`` that mean something here (pyarrow's
#: ``open_input_stream(compression=, buffer_size=)``); ``arrow_open_file_args`` has none
OPEN_STREAM_KEYS = ("compression", "buffer_size")


@dataclass(frozen=True)
class PathPartitionFilter:
    """Keeps the files whose partition values satisfy ``filter_fn`` (Ray's ``PathPartitionFilter``).

    Called with a list of paths, returns the ones kept; ``filter_fn`` gets each file's
    partition dict (key → value as a str, or converted with ``field_types``).

    Example:
        >>> f = PathPartitionFilter.of(lambda p: p["n"] > 1, field_types={"n": int})
        >>> f(["/t/n=1/a", "/t/n=2/b"])
        ['/t/n=2/b']
    """

    filter_fn: Callable[[dict[str, Any]], bool]
    style: str = "hive"
    base_dir: str | None = None
    field_names: list[str] | None = None
    field_types: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, filter_fn: Callable[[dict[str, Any]], bool], style: Any = "hive", base_dir: str | None = None,
           field_names: list[str] | None = None, field_types: dict[str, Any] | None = None,
           filesystem: Any = None) -> "PathPartitionFilter":
        """Ray's constructor (``filesystem`` is accepted; paths are parsed as strings)."""
        from streamdata.io.partitioning import Partitioning

        if not callable(filter_fn):
            raise PlanError(f"PathPartitionFilter: filter_fn must be a function of the partition dict, "
                            f"got {type(filter_fn).__name__}")
        style = Partitioning(style, base_dir, field_names).style  # checks the style and field_names
        return cls(filter_fn, style, base_dir, field_names, dict(field_types or {}))

    def __call__(self, paths: list[str]) -> list[str]:
        from streamdata.io.partitioning import Partitioning

        parser = Partitioning(self.style, self.base_dir, self.field_names)
        kept = []
        for path in paths:
            values: dict[str, Any] = dict(parser.parse(path))
            for key, type_ in self.field_types.items():
                if values.get(key) is not None:
                    values[key] = type_(values[key])
            if self.filter_fn(values):
                kept.append(path)
        return kept


def apply_partition_filter(partition_filter: Any, paths: list[str]) -> set[str]:
    """The paths ``partition_filter`` keeps (it takes and returns a list of paths)."""
    if not callable(partition_filter):
        raise PlanError(f"partition_filter must be a PathPartitionFilter (a callable on the list of "
                        f"paths), got {partition_filter!r}")
    kept = partition_filter(list(paths))
    if not isinstance(kept, (list, tuple)):
        raise PlanError(f"partition_filter must return a list of paths, got {type(kept).__name__}")
    return set(kept)


def shuffle_files(items: Sequence[Any], shuffle: Any) -> list[Any]:
    """``items`` in the order ``shuffle`` asks: None keeps it; ``"files"`` shuffles at random;
    a ``FileShuffleConfig(seed=s)`` shuffles with seed ``s`` (the same order every time).

    Example:
        >>> shuffle_files([1, 2, 3, 4], "bad")
        Traceback (most recent call last):
        ...
        streamdata.errors.PlanError: shuffle must be None, 'files' or a FileShuffleConfig, got 'bad'
    """
    items = list(items)
    if shuffle is None:
        return items
    if shuffle == "files":
        random.shuffle(items)
        return items
    if type(shuffle).__name__ == "FileShuffleConfig" and hasattr(shuffle, "seed"):
        random.Random(shuffle.seed).shuffle(items)
        return items
    raise PlanError(f"shuffle must be None, 'files' or a FileShuffleConfig, got {shuffle!r}")


def check_open_args(name: str, args: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """``arrow_open_stream_args`` / ``arrow_open_file_args`` as a dict of the keys supported here.

    Example:
        >>> check_open_args("arrow_open_stream_args", {"compression": "gzip"}, OPEN_STREAM_KEYS)
        {'compression': 'gzip'}
    """
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise PlanError(f"{name} must be a dict, got {args!r}")
    unknown = sorted(k for k in args if k not in allowed)
    if unknown:
        raise PlanError(f"{name}: unsupported keys {unknown}; supported: {list(allowed)}")
    size = args.get("buffer_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise PlanError(f"{name}['buffer_size'] must be an int > 0, got {size!r}")
    comp = args.get("compression", "detect")
    if comp is not None and not isinstance(comp, str):
        raise PlanError(f"{name}['compression'] must be None, 'detect' or a codec name, got {comp!r}")
    return dict(args)


def reader_options(fmt: str, kind: str, cls: type, value: Any) -> Any:
    """``{kind}_options`` of a ``pyarrow.<fmt>`` reader as a fresh ``cls`` object: the
    defaults for None, a copy of a ``cls`` object, or one built from a dict of its fields.

    Example:
        >>> import pyarrow.csv as pacsv
        >>> reader_options("CSV", "read", pacsv.ReadOptions, {"skip_rows": 1}).skip_rows
        1
        >>> reader_options("CSV", "read", pacsv.ReadOptions, 3)
        Traceback (most recent call last):
        ...
        streamdata.errors.PlanError: read_options must be a pyarrow.csv.ReadOptions or a dict, got int

    Raises:
        PlanError: ``value`` is none of those, or a dict with a field ``cls`` lacks.
    """
    if value is None:
        return cls()
    if isinstance(value, cls):
        return copy.copy(value)
    if isinstance(value, dict):
        try:
            return cls(**value)
        except TypeError as exc:
            raise PlanError(f"invalid {kind}_options for {fmt}: {exc}") from exc
    raise PlanError(f"{kind}_options must be a pyarrow.{fmt.lower()}.{cls.__name__} or a dict, "
                    f"got {type(value).__name__}")
