"""Paths and filesystems: what a file source or sink reads from or writes to.

Every file source accepts a path, a directory (read recursively), a glob, or a list
of them, on any fsspec filesystem: local paths, ``file://``, ``memory://``,
``s3://bucket/key`` (s3fs; credentials and ``AWS_ENDPOINT_URL`` from the usual
environment, or pass ``filesystem=``) and ``s3://anonymous@bucket/key`` for
unsigned access. ``filesystem=`` may also be a ``pyarrow.fs.FileSystem``, as Ray
users pass. Listing is batched: one ``find``/``glob`` per directory or pattern, one
``ls`` per parent directory of explicitly listed files; never a round trip per file.

Files and directories whose names start with ``.`` or ``_`` below a listed directory
are ignored (``_SUCCESS``, ``.crc`` files, staging directories of writes in progress).

Example:
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> with fs.open("/doc/fs/a.csv", "wb") as f:
    ...     _ = f.write(b"x\\n1\\n")
    >>> fs2, paths = resolve_filesystem("memory://doc/fs")
    >>> [f.path for f in expand_paths(fs2, paths)]
    ['/doc/fs/a.csv']
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence


from streamdata.context import env_str
from streamdata.errors import DataSourceError, PlanError
from streamdata.io import commit_log

if TYPE_CHECKING:  # pragma: no cover
    import fsspec
    import pyarrow.fs as pafs

PathArg = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"

_GLOB_CHARS = re.compile(r"[*?\[]")
_ANON_PREFIX = re.compile(r"^(s3a?|s3n)://anonymous@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file to read: its path on the filesystem (no protocol) and size in bytes."""

    path: str
    size: int | None = None


# ---------------------------------------------------------------------------- filesystems


def _s3_filesystem(anon: bool) -> "fsspec.AbstractFileSystem":
    import s3fs

    kwargs: dict[str, Any] = {"anon": anon, "use_listings_cache": False}
    endpoint = env_str("AWS_ENDPOINT_URL_S3") or env_str("AWS_ENDPOINT_URL")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return s3fs.S3FileSystem(**kwargs)


def to_fsspec(filesystem: Any) -> "fsspec.AbstractFileSystem":
    """An fsspec filesystem from an fsspec or ``pyarrow.fs`` filesystem.

    Example:
        >>> import pyarrow.fs
        >>> type(to_fsspec(pyarrow.fs.LocalFileSystem())).__name__
        'LocalFileSystem'
    """
    import fsspec

    if isinstance(filesystem, fsspec.AbstractFileSystem):
        return filesystem
    import pyarrow.fs as pafs

    if isinstance(filesystem, pafs.PyFileSystem) and isinstance(filesystem.handler, pafs.FSSpecHandler):
        return filesystem.handler.fs
    if isinstance(filesystem, pafs.LocalFileSystem):
        return fsspec.filesystem("file")
    if isinstance(filesystem, pafs.FileSystem):
        from fsspec.implementations.arrow import ArrowFSWrapper

        return ArrowFSWrapper(filesystem)
    raise PlanError(f"filesystem must be an fsspec or pyarrow.fs filesystem, got {type(filesystem).__name__}")


def to_arrow_filesystem(fs: "fsspec.AbstractFileSystem") -> "pafs.FileSystem":
    """A ``pyarrow.fs`` filesystem that reads through ``fs`` (native where one exists).

    Example:
        >>> import fsspec
        >>> type(to_arrow_filesystem(fsspec.filesystem("file"))).__name__
        'LocalFileSystem'
    """
    import pyarrow.fs as pafs

    native = native_arrow_filesystem(fs)
    return native if native is not None else pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def native_arrow_filesystem(fs: "fsspec.AbstractFileSystem") -> "pafs.FileSystem | None":
    """Arrow's own filesystem for ``fs`` (local, or one fsspec wraps), or None when Arrow
    would reach it only through Python calls into ``fs``.

    Example:
        >>> import fsspec
        >>> native_arrow_filesystem(fsspec.filesystem("memory")) is None
        True
    """
    import pyarrow.fs as pafs
    from fsspec.implementations.local import LocalFileSystem

    if type(fs) is LocalFileSystem:
        return pafs.LocalFileSystem()
    try:
        from fsspec.implementations.arrow import ArrowFSWrapper

        if isinstance(fs, ArrowFSWrapper):
            return fs.fs
    except ImportError:  # pragma: no cover
        pass
    return None


def _protocol_of(path: str) -> str:
    if "://" in path:
        return path.split("://", 1)[0].lower()
    return "file"


def _is_local_protocol(protocol: str) -> bool:
    return protocol in ("file", "local")


def resolve_filesystem(paths: Any, filesystem: Any = None) -> tuple["fsspec.AbstractFileSystem", list[str]]:
    """The fsspec filesystem for ``paths`` and the paths in its own form (no protocol).

    Args:
        paths: one path or a list of them; all on one filesystem.
        filesystem: an fsspec or ``pyarrow.fs`` filesystem to use instead of the one the
            paths' protocol names.

    Raises:
        PlanError: no paths, an empty path, paths on several filesystems, or not strings.

    Example:
        >>> fs, ps = resolve_filesystem(["/tmp/a", "file:///tmp/b"])
        >>> ps
        ['/tmp/a', '/tmp/b']
    """
    import fsspec

    if isinstance(paths, (str, os.PathLike)):
        raw = [paths]
    elif isinstance(paths, (list, tuple)):
        raw = list(paths)
    else:
        raise PlanError(f"paths must be a path or a list of paths, got {type(paths).__name__}: {paths!r}")
    if not raw:
        raise PlanError("no paths given")
    strs: list[str] = []
    for p in raw:
        if not isinstance(p, (str, os.PathLike)):
            raise PlanError(f"paths must be strings, got {type(p).__name__}: {p!r}")
        if not str(os.fspath(p)).strip():  # (not the working directory: a whole tree read by mistake)
            raise PlanError(f"paths must not be empty, got {p!r}; pass '.' to read the working directory")
        strs.append(os.fspath(p))
    anon = [bool(_ANON_PREFIX.match(p)) for p in strs]
    strs = [_ANON_PREFIX.sub(lambda m: m.group(1) + "://", p) for p in strs]
    protocols = {_protocol_of(p) for p in strs}
    if len({"file" if _is_local_protocol(p) else p for p in protocols}) > 1:
        raise PlanError(f"all paths must be on one filesystem, got protocols {sorted(protocols)}")
    protocol = protocols.pop()

    if filesystem is not None:
        fs = to_fsspec(filesystem)
    elif protocol in ("s3", "s3a", "s3n"):
        if any(anon) and not all(anon):
            raise PlanError("mixing s3://anonymous@ paths with signed s3:// paths is not supported")
        fs = _s3_filesystem(anon=all(anon))
    elif _is_local_protocol(protocol):
        fs = fsspec.filesystem("file")
    else:
        fs = fsspec.filesystem(protocol)

    out = []
    for p in strs:
        if _is_local_protocol(_protocol_of(p)) and _is_local_fs(fs):
            local = p.split("://", 1)[1] if "://" in p else p
            out.append(os.path.abspath(os.path.expanduser(local)))
        else:
            out.append(fs._strip_protocol(p))
    return fs, out


def _is_local_fs(fs: "fsspec.AbstractFileSystem") -> bool:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return True
    try:
        from fsspec.implementations.arrow import ArrowFSWrapper
        import pyarrow.fs as pafs

        return isinstance(fs, ArrowFSWrapper) and isinstance(fs.fs, pafs.LocalFileSystem)
    except ImportError:  # pragma: no cover
        return False


def unstrip(fs: "fsspec.AbstractFileSystem", path: str) -> str:
    """A path with its filesystem's protocol, for messages and ``fsspec.open``.

    Example:
        >>> import fsspec
        >>> unstrip(fsspec.filesystem("memory"), "/a/b")
        'memory:///a/b'
    """
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return path
    return f"{protocol}://{path}"


# ---------------------------------------------------------------------------- listing


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def _has_extension(path: str, extensions: Sequence[str] | None) -> bool:
    if not extensions:
        return True
    name = path.rsplit("/", 1)[-1].lower()
    for ext in extensions:
        ext = ext.lower().lstrip(".")
        if name.endswith("." + ext):
            return True
        for comp in (".gz", ".bz2", ".zst", ".zstd", ".xz", ".lz4", ".snappy", ".br"):
            if name.endswith("." + ext + comp):
                return True
    return False


def _info_size(fs: "fsspec.AbstractFileSystem", path: str, info: dict[str, Any] | None) -> int | None:
    if info and info.get("size") is not None:
        return int(info["size"])
    try:
        return int(fs.size(path))
    except Exception:  # noqa: BLE001 - unknown sizes are fine
        return None


def _not_found(fs: "fsspec.AbstractFileSystem", path: str, cause: BaseException | None = None) -> FileNotFoundError:
    err = FileNotFoundError(errno.ENOENT, "No such file or directory", unstrip(fs, path))
    if cause is not None:
        err.__cause__ = cause
    return err


def _find(fs: "fsspec.AbstractFileSystem", path: str) -> dict[str, dict[str, Any]]:
    try:
        found = fs.find(path, withdirs=False, detail=True)
    except FileNotFoundError as exc:
        raise _not_found(fs, path, exc) from exc
    except OSError as exc:  # a missing bucket surfaces as various OSErrors
        if "NoSuchBucket" in str(exc) or "does not exist" in str(exc).lower():
            raise _not_found(fs, path, exc) from exc
        raise
    return found


def expand_paths(fs: "fsspec.AbstractFileSystem", paths: Iterable[str], *,
                 file_extensions: Sequence[str] | None = None,
                 ignore_hidden: bool = True) -> list[FileInfo]:
    """Every file the given paths name, in order (sorted within a directory or glob).

    A directory contributes the files below it (recursively) that are not hidden and have
    one of ``file_extensions`` (when given); a glob, its matches; an explicit file is kept
    whatever its name.

    Raises:
        FileNotFoundError: a path that does not exist (naming it).
        DataSourceError: the paths name no file at all (an empty directory, say).
    """
    paths = list(paths)
    out: list[FileInfo] = []
    explicit: dict[str, list[int]] = {}  # parent dir → indices of plain paths under it
    slots: list[list[FileInfo] | None] = []

    plain: list[tuple[int, str]] = []
    for path in paths:
        if _GLOB_CHARS.search(path):
            slots.append(_expand_glob(fs, path, file_extensions, ignore_hidden))
        else:
            slots.append(None)
            plain.append((len(slots) - 1, path))

    # explicit paths: one `ls` per parent tells files from directories (and gives sizes)
    for idx, path in plain:
        explicit.setdefault(posixpath.dirname(path.rstrip("/")) or "/", []).append(idx)
    listings: dict[str, dict[str, dict[str, Any]]] = {}
    if len(plain) > 1:
        for parent in explicit:
            try:
                listings[parent] = {_norm(e["name"]): e for e in fs.ls(parent, detail=True)}
            except (FileNotFoundError, NotADirectoryError, OSError):
                listings[parent] = {}
    for idx, path in plain:
        parent = posixpath.dirname(path.rstrip("/")) or "/"
        entry = listings.get(parent, {}).get(_norm(path))
        if entry is not None and entry.get("type") == "file":
            slots[idx] = [FileInfo(path, _info_size(fs, path, entry))]
            continue
        slots[idx] = _expand_dir(fs, path, file_extensions, ignore_hidden)

    for found in slots:
        out.extend(found or [])
    if not out:
        where = paths[0] if len(paths) == 1 else paths
        ext = f" with extensions {list(file_extensions)}" if file_extensions else ""
        raise DataSourceError(
            f"no files to read{ext} in {where!r} (directories are read recursively; names starting "
            f"with '.' or '_' are ignored)", path=paths[0] if paths else None)
    return out


def _norm(path: str) -> str:
    return path.rstrip("/")


def _expand_dir(fs: "fsspec.AbstractFileSystem", path: str, file_extensions: Sequence[str] | None,
                ignore_hidden: bool) -> list[FileInfo]:
    try:
        found = _find(fs, path)
    except PermissionError:
        # listing refused (e.g. an anonymous reader of a bucket that allows GetObject only):
        # a path naming a file can still be read
        info = fs.info(path)
        if info.get("type") == "file":
            return [FileInfo(_norm(path), _info_size(fs, path, info))]
        raise
    base = _norm(path)
    if not found:
        # an empty directory (exists) or nothing at all (missing)
        try:
            exists = fs.exists(path)
        except OSError:
            exists = False
        if not exists:
            raise _not_found(fs, path)
        return []
    files = []
    # a write's commit marker says which files are valid while (or after) it commits
    masked = commit_log.hidden_by_markers(fs, found) if any(map(commit_log.is_marker, found)) else set()
    for name, info in found.items():
        name = _norm(name)
        if name == base:  # the path is a file
            return [FileInfo(name, _info_size(fs, name, info))]
        rel = name[len(base):].lstrip("/") if name.startswith(base) else name
        if ignore_hidden and _hidden(rel):
            continue
        if masked and commit_log.is_hidden(name, masked):
            continue
        if not _has_extension(name, file_extensions):
            continue
        files.append(FileInfo(name, _info_size(fs, name, info)))
    files.sort(key=lambda f: f.path)
    return files


def _expand_glob(fs: "fsspec.AbstractFileSystem", pattern: str, file_extensions: Sequence[str] | None,
                 ignore_hidden: bool) -> list[FileInfo]:
    matches = fs.glob(pattern, detail=True)
    files: list[FileInfo] = []
    static = _GLOB_CHARS.split(pattern, 1)[0]
    static = static.rsplit("/", 1)[0] if "/" in static else ""
    for name, info in sorted(matches.items()):
        name = _norm(name)
        rel = name[len(static):].lstrip("/") if name.startswith(static) else name
        if ignore_hidden and _hidden(rel):
            continue
        if info.get("type") == "directory":
            files.extend(_expand_dir(fs, name, file_extensions, ignore_hidden))
        elif _has_extension(name, file_extensions):
            files.append(FileInfo(name, _info_size(fs, name, info)))
    return files
