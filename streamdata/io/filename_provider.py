"""``FilenameProvider``: how a file write names its files (Ray's
``ray.data.datasource.FilenameProvider``).

Subclass it and override ``get_filename_for_task(write_uuid, task_index)`` (Ray's current
API); a provider that overrides the older ``get_filename_for_block(block, write_uuid,
task_index, block_index)`` is called that way instead, and one that overrides only
``get_filename_for_row`` names each file of one row (``write_images``). Pass it as
``filename_provider=`` to ``write_parquet``, ``write_csv``, ``write_json``, ``write_numpy``,
``write_images``, ``write_webdataset``, ``write_tfrecords`` (:func:`file_name` is what the
file sink calls). A task that writes several files (``max_rows_per_file``) gets
``_<n>`` before the extension of the task's name for its second and later files.

Example:
    >>> class Prefixed(FilenameProvider):
    ...     def get_filename_for_task(self, write_uuid, task_index):
    ...         return f"scores_{task_index:03}.{self.file_format}"
    >>> p = Prefixed(file_format="parquet")
    >>> file_name(p, None, "w1", 4, 0), file_name(p, None, "w1", 4, 2)
    ('scores_004.parquet', 'scores_004_000002.parquet')
    >>> file_name(FilenameProvider(file_format="csv"), None, "w1", 4, 0)
    'w1_000004.csv'
"""

from __future__ import annotations

import posixpath
from typing import Any

from streamdata.errors import PlanError


class FilenameProvider:
    """Names the files a write makes (see the module docstring).

    Args:
        dataset_uuid: a prefix of every name (``{dataset_uuid}_{write_uuid}_{task}``).
        file_format: the extension of the default names (without the dot).
    """

    def __init__(self, dataset_uuid: str | None = None, file_format: str | None = None) -> None:
        self.dataset_uuid = dataset_uuid
        self.file_format = file_format

    def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
        """The name of write task ``task_index``'s file (unique per task, the same on a retry)."""
        name = f"{self.dataset_uuid}_" if self.dataset_uuid is not None else ""
        name += f"{write_uuid}_{task_index:06}"
        return f"{name}.{self.file_format}" if self.file_format is not None else name

    def get_filename_for_block(self, block: Any, write_uuid: str, task_index: int, block_index: int) -> str:
        """Ray's older form (a subclass may override it instead of :meth:`get_filename_for_task`)."""
        raise NotImplementedError(f"{type(self).__name__} overrides neither get_filename_for_task nor "
                                  "get_filename_for_block")

    def get_filename_for_row(self, row: dict[str, Any], write_uuid: str, task_index: int, block_index: int,
                             row_index: int) -> str:
        """Ray's row form: the name of a file holding one row (``write_images`` asks it)."""
        raise NotImplementedError(f"{type(self).__name__}.get_filename_for_row is not implemented")


def check_filename_provider(provider: Any) -> Any:
    """``provider`` when it names files (one of Ray's three methods), else a PlanError naming it."""
    if not any(callable(getattr(provider, m, None))
               for m in ("get_filename_for_task", "get_filename_for_block", "get_filename_for_row")):
        raise PlanError(f"filename_provider must have get_filename_for_task(write_uuid, task_index) or "
                        f"get_filename_for_block(block, write_uuid, task_index, block_index), got {provider!r}")
    return provider


def _overrides(provider: Any, method: str) -> bool:
    mine = getattr(type(provider), method, None)
    return mine is not None and mine is not getattr(FilenameProvider, method)


def file_name(provider: Any, block: Any, write_uuid: str, task_index: int, n: int) -> str:
    """The name ``provider`` gives the ``n``-th file of write task ``task_index``.

    Raises:
        PlanError: the provider returned something that is not a file name, or names only
            one-row files and this file holds more.
    """
    names_blocks = _overrides(provider, "get_filename_for_block") or (
        not hasattr(provider, "get_filename_for_task") and hasattr(provider, "get_filename_for_block"))
    names_rows = (_overrides(provider, "get_filename_for_row") and not _overrides(provider, "get_filename_for_task")
                  and block is not None and block.num_rows == 1)  # a file of one row (write_images)
    if names_blocks:
        name = provider.get_filename_for_block(block, write_uuid, task_index, n)
    elif names_rows:
        from streamdata import block as B

        name = provider.get_filename_for_row(next(B.iter_rows(block)), write_uuid, task_index, 0, n)
    elif not hasattr(provider, "get_filename_for_task"):  # it names one-row files only
        raise PlanError(f"filename_provider {type(provider).__name__} has only get_filename_for_row, which names "
                        "files of one row (write_images); give it get_filename_for_task for this write")
    else:
        name = provider.get_filename_for_task(write_uuid, task_index)
        if n and isinstance(name, str):
            stem, ext = posixpath.splitext(name)
            name = f"{stem}_{n:06d}{ext}"
    if not isinstance(name, str) or not name or "/" in name:
        raise PlanError(f"filename_provider {type(provider).__name__} returned {name!r}; it must return a file "
                        "name (a non-empty str without '/')")
    return name


__all__ = ["FilenameProvider", "check_filename_provider", "file_name"]
