"""``Checkpoint``: a directory of files a training run saves and resumes from (Ray Train's).

A checkpoint is a directory on the local filesystem (all workers of the embedded
runtime share it). ``sd.train.report(metrics, checkpoint=...)`` copies the
directory into the run's storage, so the directory the worker wrote may be
deleted as soon as ``report`` returns.

Example:
    >>> import os, tempfile
    >>> from streamdata.train import Checkpoint
    >>> src = tempfile.mkdtemp()
    >>> with open(os.path.join(src, "model.txt"), "w") as f:
    ...     _ = f.write("weights")
    >>> ckpt = Checkpoint.from_directory(src)
    >>> with ckpt.as_directory() as d:
    ...     open(os.path.join(d, "model.txt")).read()
    'weights'
    >>> copy = ckpt.to_directory()
    >>> sorted(os.listdir(copy))
    ['model.txt']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any, Iterator

_METADATA_FILE = ".metadata.json"


class Checkpoint:
    """A reference to a checkpoint directory (picklable: only the path travels).

    Args:
        path: the checkpoint's directory.
    """

    __slots__ = ("path", "filesystem")

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        if filesystem is not None and type(filesystem).__name__ != "LocalFileSystem":
            raise NotImplementedError("Checkpoint(filesystem=...) supports only the local filesystem here (None "
                                      f"or pyarrow.fs.LocalFileSystem), got {type(filesystem).__name__}")
        self.path = os.fspath(path)
        if filesystem is None:
            import pyarrow.fs

            filesystem = pyarrow.fs.LocalFileSystem()
        #: where ``path`` lives: the local filesystem, a ``pyarrow.fs.LocalFileSystem`` (as Ray infers it)
        self.filesystem = filesystem

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> Checkpoint:
        """A checkpoint of the files in the local directory ``path``. As in Ray, the directory
        is not read here: using the checkpoint (``as_directory``, ``to_directory``, ...) raises
        ``FileNotFoundError`` if it does not exist then.

        Example:
            >>> import tempfile
            >>> Checkpoint.from_directory(tempfile.mkdtemp()).path != ""
            True
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Checkpoint.from_directory path must be a str or os.PathLike, got {type(path).__name__}")
        return cls(os.path.abspath(os.fspath(path)))

    def to_directory(self, path: str | os.PathLike | None = None) -> str:
        """Copy the checkpoint's files into ``path`` (created if needed; a new temporary
        directory when None) and return that directory.

        Example:
            >>> import os, tempfile
            >>> ckpt = Checkpoint.from_directory(tempfile.mkdtemp())
            >>> os.path.isdir(ckpt.to_directory())
            True
        """
        self._check_exists()
        dest = tempfile.mkdtemp(prefix="streamdata-checkpoint-") if path is None else os.fspath(path)
        if os.path.abspath(dest) != os.path.abspath(self.path):
            shutil.copytree(self.path, dest, dirs_exist_ok=True)
        return dest

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """A context manager yielding a local directory with the checkpoint's files
        (the checkpoint's own directory: do not modify it).

        Example:
            >>> import tempfile
            >>> ckpt = Checkpoint.from_directory(tempfile.mkdtemp())
            >>> with ckpt.as_directory() as d:
            ...     d == ckpt.path
            True
        """
        self._check_exists()
        yield self.path

    def get_metadata(self) -> dict[str, Any]:
        """The JSON metadata stored with the checkpoint (``{}`` when none).

        Example:
            >>> import tempfile
            >>> ckpt = Checkpoint.from_directory(tempfile.mkdtemp())
            >>> ckpt.set_metadata({"epoch": 3}); ckpt.get_metadata()
            {'epoch': 3}
        """
        meta_path = os.path.join(self.path, _METADATA_FILE)
        if not os.path.exists(meta_path):
            return {}
        with open(meta_path, encoding="utf-8") as f:
            return json.load(f)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the checkpoint's JSON metadata."""
        self._check_exists()
        with open(os.path.join(self.path, _METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f)

    def update_metadata(self, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the checkpoint's JSON metadata."""
        self.set_metadata({**self.get_metadata(), **metadata})

    def _check_exists(self) -> None:
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"checkpoint directory {self.path!r} does not exist (or is not a directory)")

    def __reduce__(self) -> tuple:
        return (type(self), (self.path,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"Checkpoint(path={self.path!r})"


def persist_checkpoint(checkpoint: Checkpoint, dest: str) -> Checkpoint:
    """Copy ``checkpoint``'s files into ``dest`` (merging with files other workers put
    there for the same report) and return the persisted checkpoint.

    Example:
        >>> import os, tempfile
        >>> src = Checkpoint.from_directory(tempfile.mkdtemp())
        >>> dest = os.path.join(tempfile.mkdtemp(), "checkpoint_000000")
        >>> persist_checkpoint(src, dest).path == dest
        True
    """
    if not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"checkpoint must be a streamdata.train.Checkpoint, got {type(checkpoint).__name__}")
    checkpoint._check_exists()
    os.makedirs(dest, exist_ok=True)
    if os.path.abspath(checkpoint.path) != os.path.abspath(dest):
        shutil.copytree(checkpoint.path, dest, dirs_exist_ok=True)
    return Checkpoint(dest)


def checkpoint_dir_name(index: int) -> str:
    """The directory name of the ``index``-th reported checkpoint of a run.

    Example:
        >>> checkpoint_dir_name(7)
        'checkpoint_000007'
    """
    return f"checkpoint_{index:06d}"


__all__ = ["Checkpoint", "checkpoint_dir_name", "persist_checkpoint"]
