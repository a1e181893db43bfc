"""The commit marker of a file write: readers never see a mix of the old and the new files.

Moving a write's staged files into place is many operations (on an object store a
copy and a delete per file), and replacing what an ``"overwrite"`` write replaces is
more. A failure or a crash half-way would leave some new files next to old ones. So
the commit writes one small marker object first, ``<dest>/.streamdata-commit-<id>.json``
(one PUT: atomic on every store), naming the files it adds and those it removes:

1. marker ``{"state": "pending", "new": [...], "old": [...]}``;
2. the new files are moved into place (readers skip them: the marker says pending);
3. marker ``"committed"`` (one PUT): from now on readers skip the old files;
4. the old files are deleted, then the marker.

A failure in step 2 (or 3) rolls back: the new files that got in are deleted, then
the marker, and the old set is whole again. A failure in step 4 leaves the marker
(``committed``): readers keep skipping the old files, and the next write to the
destination finishes the deletes (:func:`recover`). A crash (no rollback ran) leaves
the marker in whichever state it reached; readers pick the valid set by it
(:func:`hidden_by_markers`), and the next write finishes or rolls back (:func:`recover`).

Names in a marker are relative to its directory. Markers and staging directories
start with ``.``, so readers never take them for data. Readers honour markers when they
list a directory (the destination or a folder above it); a glob pattern or an explicit
list of files is read as given.

Example:
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> marker = write_marker(fs, "/doc-commit", "abc", "pending", new=["n.csv"], old=["o.csv"])
    >>> hidden_by_markers(fs, {"/doc-commit/n.csv", "/doc-commit/o.csv", marker})
    {'/doc-commit/n.csv'}
"""

from __future__ import annotations

import json
import logging
import posixpath
from typing import Any, Iterable

logger = logging.getLogger("streamdata.io")

MARKER_PREFIX = ".streamdata-commit-"
MARKER_SUFFIX = ".json"


def marker_path(dest: str, commit_id: str) -> str:
    return f"{dest}/{MARKER_PREFIX}{commit_id}{MARKER_SUFFIX}"


def is_marker(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith(MARKER_PREFIX) and name.endswith(MARKER_SUFFIX)


def write_marker(fs: Any, dest: str, commit_id: str, state: str, *, new: list[str], old: list[str],
                 staging: str = "") -> str:
    """Write (or replace) the marker of commit ``commit_id`` in one PUT; returns its path."""
    path = marker_path(dest, commit_id)
    body = json.dumps({"state": state, "new": new, "old": old, "staging": staging}).encode()
    with fs.open(path, "wb") as f:
        f.write(body)
    return path


def read_marker(fs: Any, path: str) -> dict | None:
    """The marker at ``path``, or None when it is gone or unreadable (a torn write: ignored)."""
    try:
        with fs.open(path, "rb") as f:
            marker = json.loads(f.read())
    except (FileNotFoundError, ValueError, OSError):
        return None
    if not isinstance(marker, dict) or marker.get("state") not in ("pending", "committed"):
        return None
    return marker


def hidden_by_markers(fs: Any, paths: Iterable[str]) -> set[str]:
    """Of ``paths`` (a listing that includes hidden files), those a commit marker among them
    says are not valid now: a pending commit's new files, a committed one's old files."""
    paths = [p.rstrip("/") for p in paths]
    markers = [p for p in paths if is_marker(p)]
    if not markers:
        return set()
    out: set[str] = set()
    for path in markers:
        marker = read_marker(fs, path)
        if marker is None:
            continue
        base = posixpath.dirname(path)
        names = marker["new"] if marker["state"] == "pending" else marker["old"]
        out.update(f"{base}/{name}" for name in names)
    return out


def is_hidden(path: str, hidden: set[str]) -> bool:
    """Whether ``path`` or a directory above it is in ``hidden`` (from :func:`hidden_by_markers`)."""
    if not hidden:
        return False
    path = path.rstrip("/")
    while path:
        if path in hidden:
            return True
        parent = posixpath.dirname(path)
        if parent == path:
            return False
        path = parent
    return False


def recover(fs: Any, dest: str) -> None:
    """Finish or roll back commits to ``dest`` that a failure or crash left half-done:
    a committed one's old files are deleted, a pending one's new files are; then its
    marker and staging directory go."""
    try:
        entries = fs.ls(dest, detail=False)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return
    for path in entries:
        if not is_marker(path):
            continue
        marker = read_marker(fs, path)
        if marker is None:
            continue
        doomed = marker["old"] if marker["state"] == "committed" else marker["new"]
        logger.warning("%s: a half-done write left commit marker %s (%s); %s", dest, path, marker["state"],
                       "deleting the replaced files" if marker["state"] == "committed"
                       else "rolling back its new files")
        remove_quietly(fs, [f"{dest}/{name}" for name in doomed])
        if marker.get("staging"):
            remove_quietly(fs, [f"{dest}/{marker['staging']}"], recursive=True)
        remove_quietly(fs, [path])


def remove_quietly(fs: Any, paths: list[str], *, recursive: bool = False) -> None:
    """Delete ``paths``; missing ones are fine (a retry after a partial delete)."""
    if not paths:
        return
    try:
        fs.rm(paths, recursive=recursive)  # one batched call where the store has one
        return
    except FileNotFoundError:
        pass
    for path in paths:
        try:
            fs.rm(path, recursive=recursive)
        except FileNotFoundError:
            pass
