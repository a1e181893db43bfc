"""WebDataset tar shards: ``read_webdataset`` / ``write_webdataset`` (Ray's conventions).

A sample is the run of consecutive tar members sharing a key (the member name up to the
first dot of its base name: ``shard/000017.jpg`` and ``shard/000017.cls`` are sample
``shard/000017`` with columns ``jpg`` and ``cls``). Each row holds ``__key__``,
``__url__`` (the shard) and one column per extension. ``decoder=True`` decodes by
extension: ``txt`` → str, ``cls`` → int, ``json`` → object, ``npy`` → array, images
(``jpg``, ``png``, ...) → arrays (``decoder="PIL"`` is not supported: rows hold Arrow
data); ``pickle``/``pth`` only when ``STREAMDATA_ALLOW_UNSAFE_DESERIALIZATION=1`` (they
can run code). A callable, or a list of callables, receives and returns the sample dict.
``fileselect`` / ``suffixes`` keep members by pattern, ``filerename`` renames them.

Writing encodes each column by its name the same way (``encoder=True``), or keeps
bytes as they are (``encoder=False``), one tar member per column per row, named
``<__key__>.<column>``.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import tarfile
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa

from streamdata.errors import DataSinkError, DataSourceError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip
from streamdata.io.sizing import target_block_sizes

UNSAFE_ENV = "STREAMDATA_ALLOW_UNSAFE_DESERIALIZATION"
IMAGE_EXTS = ("jpg", "jpeg", "png", "ppm", "pgm", "pbm", "pnm", "bmp", "tif", "tiff", "webp")
_KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


def split_key(name: str) -> tuple[str | None, str | None]:
    """``(key, extension)`` of a member name.

    Example:
        >>> split_key("a/b/0001.seg.png")
        ('a/b/0001', 'seg.png')
    """
    m = _KEY.match(name)
    return (m.group(1), m.group(2)) if m else (None, None)


def _matches(suffix: str, patterns: Any) -> bool:
    if patterns is None:
        return True
    if callable(patterns):
        return bool(patterns(suffix))
    return any(fnmatch.fnmatch("." + suffix, p) or fnmatch.fnmatch(suffix, p) or suffix == p.lstrip(".")
               for p in patterns)


def _rename(name: str, rules: Any) -> str:
    if rules is None:
        return name
    if callable(rules):
        return rules(name)
    for rule in rules:  # "old;new" pairs or callables
        if callable(rule):
            name = rule(name)
        else:
            old, new = rule.split(";", 1)
            name = re.sub(old, new, name)
    return name


def _octal(field: bytes) -> int:
    field = field.rstrip(b"\x00 ").lstrip(b" ")
    if field and field[0] & 0x80:  # GNU base-256 for large sizes
        return int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
    return int(field or b"0", 8)


def iter_tar(f: Any, url: str) -> Iterator[tuple[str, bytes]]:
    """``(name, data)`` of the regular files of a tar stream, in order.

    A small reader of ustar/GNU/pax headers (several times faster than :mod:`tarfile` on
    shards of many small members); checksums are verified, and a corrupt header or a
    member cut short raises an error naming ``url``.

    Example:
        >>> import io, tarfile
        >>> buf = io.BytesIO()
        >>> with tarfile.open(fileobj=buf, mode="w") as t:
        ...     info = tarfile.TarInfo("a.txt"); info.size = 2; t.addfile(info, io.BytesIO(b"hi"))
        >>> list(iter_tar(io.BytesIO(buf.getvalue()), "mem"))
        [('a.txt', b'hi')]
    """
    long_name: str | None = None
    pax_name: str | None = None
    offset = 0
    while True:
        header = f.read(512)
        if not header or header == b"\x00" * len(header):
            return
        if len(header) < 512:
            raise DataSourceError(f"{url}: corrupt or truncated tar shard: a header at byte {offset} is cut short",
                                  path=url)
        try:
            checksum = _octal(header[148:156])
            size = _octal(header[124:136])
        except ValueError as exc:
            raise DataSourceError(f"{url}: corrupt or truncated tar shard: bad header at byte {offset}",
                                  path=url) from exc
        computed = sum(header[:148]) + 256 + sum(header[156:])
        if checksum != computed:
            raise DataSourceError(f"{url}: corrupt or truncated tar shard: header checksum mismatch at byte {offset}",
                                  path=url)
        kind = header[156:157]
        padded = -(-size // 512) * 512
        data = f.read(padded)
        if len(data) < padded:  # a tar is whole 512-byte blocks: a short member or padding is a cut
            raise DataSourceError(f"{url}: corrupt or truncated tar shard: member at byte {offset} has "
                                  f"{len(data)} of its {padded} bytes (data and padding)", path=url)
        data = data[:size]
        offset += 512 + padded
        if kind == b"L":  # GNU long name of the next member
            long_name = data.rstrip(b"\x00").decode("utf-8")
            continue
        if kind in (b"x", b"g"):  # pax headers: "<len> key=value\n" records
            if kind == b"x":
                for record in data.split(b"\n"):
                    if b" path=" in record:
                        pax_name = record.split(b" path=", 1)[1].decode("utf-8")
            continue
        if kind not in (b"0", b"\x00", b"7"):  # directories, links, devices: skipped
            long_name = pax_name = None
            continue
        name = pax_name or long_name
        if name is None:
            name = header[:100].rstrip(b"\x00").decode("utf-8")
            prefix = header[345:500].rstrip(b"\x00") if header[257:262] == b"ustar" else b""
            if prefix:
                name = prefix.decode("utf-8") + "/" + name
        long_name = pax_name = None
        yield name, data


def default_decode(sample: dict[str, Any]) -> dict[str, Any]:
    """Decode a sample's values by extension (see the module docstring)."""
    out = dict(sample)
    for key, value in sample.items():
        if key.startswith("__") or not isinstance(value, bytes):
            continue
        ext = key.rsplit(".", 1)[-1].lower()
        if ext in ("txt", "text"):
            out[key] = value.decode("utf-8")
        elif ext in ("cls", "cls2", "index", "id"):
            out[key] = int(value.decode("utf-8").strip())
        elif ext in ("json", "jsn"):
            out[key] = json.loads(value)
        elif ext == "npy":
            out[key] = np.load(io.BytesIO(value), allow_pickle=False)
        elif ext in IMAGE_EXTS:
            from PIL import Image

            with Image.open(io.BytesIO(value)) as img:
                out[key] = np.asarray(img)
        elif ext in ("pickle", "pkl", "pyd", "pth", "pt"):
            if os.environ.get(UNSAFE_ENV) != "1":
                raise DataSourceError(f"refusing to unpickle WebDataset member {key!r} (it could run code); "
                                      f"pass a decoder, or set {UNSAFE_ENV}=1 for data you trust")
            if ext in ("pth", "pt"):
                import torch

                out[key] = torch.load(io.BytesIO(value), weights_only=False)
            else:
                import pickle

                out[key] = pickle.loads(value)
    return out


def _decoders(decoder: Any) -> list[Callable[[dict[str, Any]], dict[str, Any]]]:
    if decoder is None or decoder is False:
        return []
    if decoder is True:
        return [default_decode]
    if isinstance(decoder, str):
        raise PlanError(f"decoder={decoder!r}: format hints are not supported (rows hold arrays); pass True, "
                        f"False, a callable or a list of them")
    items = decoder if isinstance(decoder, (list, tuple)) else [decoder]
    out = []
    for d in items:
        if d is True:
            out.append(default_decode)
        elif callable(d):
            out.append(d)
        else:
            raise PlanError(f"decoder entries must be True or callables, got {d!r}")
    return out


class WebDatasetDatasource(FileBasedDatasource):
    """WebDataset shards (see the module docstring)."""

    name = "ReadWebDataset"
    encoding_ratio = 3.0

    def __init__(self, paths: Any, *, decoder: Any = True, fileselect: Any = None, filerename: Any = None,
                 suffixes: Any = None, expand_json: bool = False, **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        self._decoders = _decoders(decoder)
        self._fileselect = fileselect
        self._filerename = filerename
        self._suffixes = suffixes
        self._expand_json = expand_json

    def _samples(self, f: Any, url: str) -> Iterator[dict[str, Any]]:
        current: dict[str, Any] | None = None
        for member, data in iter_tar(f, url):
            name = _rename(member, self._filerename)
            key, suffix = split_key(name)
            if key is None or (self._fileselect is not None and not _matches(suffix, self._fileselect)):
                continue
            if current is None or current["__key__"] != key:
                if current is not None:
                    yield current
                current = {"__key__": key, "__url__": url}
            if suffix in current:
                raise DataSourceError(f"{url}: member {member} repeats extension {suffix!r} of sample "
                                      f"{key!r} (a sample's files must be consecutive and unique)", path=url)
            if _matches(suffix, self._suffixes):
                current[suffix] = data
        if current is not None:
            yield current

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        from streamdata import block as B

        url = unstrip(fs, split.path)
        _, max_bytes = target_block_sizes()
        rows: list[dict[str, Any]] = []
        size = 0
        with self.open_input(fs, split) as f:  # .tar.gz etc. decompressed by extension
            for sample in self._samples(f, url):
                for dec in self._decoders:
                    sample = dec(sample)
                if self._expand_json and isinstance(sample.get("json"), dict):
                    for k, v in sample["json"].items():
                        sample.setdefault(k, v)
                rows.append(sample)
                size += sum(len(v) if isinstance(v, (bytes, str)) else getattr(v, "nbytes", 8)
                            for v in sample.values())
                if size >= max_bytes:
                    yield B.rows_to_table(_fill(rows), what=f"read_webdataset({url})")
                    rows, size = [], 0
        if rows:
            yield B.rows_to_table(_fill(rows), what=f"read_webdataset({url})")


def _fill(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every row every column (None where a sample lacks an extension)."""
    names: dict[str, None] = {}
    for r in rows:
        for k in r:
            names.setdefault(k)
    return [{k: r.get(k) for k in names} for r in rows]


def default_encode(sample: dict[str, Any]) -> dict[str, bytes]:
    """Encode a row's values by column name (the inverse of :func:`default_decode`)."""
    out: dict[str, bytes] = {}
    for key, value in sample.items():
        if key.startswith("__") or value is None:
            continue
        ext = key.rsplit(".", 1)[-1].lower()
        if isinstance(value, bytes):
            out[key] = value
        elif ext in ("txt", "text"):
            out[key] = str(value).encode("utf-8")
        elif ext in ("cls", "cls2", "index", "id"):
            out[key] = str(int(value)).encode("utf-8")
        elif ext in ("json", "jsn"):
            out[key] = json.dumps(value.tolist() if isinstance(value, np.ndarray) else value).encode("utf-8")
        elif ext == "npy":
            buf = io.BytesIO()
            np.save(buf, np.asarray(value), allow_pickle=False)
            out[key] = buf.getvalue()
        elif ext in IMAGE_EXTS:
            from PIL import Image

            buf = io.BytesIO()
            Image.fromarray(np.asarray(value)).save(buf, format="JPEG" if ext in ("jpg", "jpeg") else ext.upper())
            out[key] = buf.getvalue()
        elif ext in ("pickle", "pkl", "pyd"):
            import pickle

            out[key] = pickle.dumps(value)
        elif isinstance(value, str):
            out[key] = value.encode("utf-8")
        else:
            raise DataSinkError(f"write_webdataset: cannot encode column {key!r} ({type(value).__name__}) by its "
                                f"extension; name it .txt/.cls/.json/.npy/.png/.jpg/.pickle or pass an encoder")
    return out


class _TarWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, encoders: list[Callable], prefix: str) -> None:
        super().__init__(f, schema)
        self.tar = tarfile.open(fileobj=f, mode="w|")
        self.encoders = encoders
        self.prefix = prefix
        self.count = 0

    def accepts(self, table: pa.Table) -> bool:
        return True

    def write(self, table: pa.Table) -> None:
        from streamdata import block as B

        for row in B.iter_rows(table):
            key = row.get("__key__") or f"{self.prefix}{self.count:06d}"
            self.count += 1
            sample: dict[str, Any] = dict(row)
            for enc in self.encoders:
                sample = enc(sample)
            for col, data in sample.items():
                if col.startswith("__") or data is None:
                    continue
                if isinstance(data, str):
                    data = data.encode("utf-8")
                if not isinstance(data, bytes):
                    raise DataSinkError(f"write_webdataset: column {col!r} of sample {key!r} is "
                                        f"{type(data).__name__}, not bytes, after encoding")
                info = tarfile.TarInfo(f"{key}.{col}")
                info.size = len(data)
                info.mode = 0o444
                self.tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self.tar.close()


class WebDatasetDatasink(FileDatasink):
    """WebDataset tar shards (see the module docstring)."""

    name = "WriteWebDataset"
    extension = "tar"

    def __init__(self, path: str, *, encoder: Any = True, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        if encoder is None or encoder is False:
            self._encoders: list[Callable] = []
        elif encoder is True:
            self._encoders = [default_encode]
        elif callable(encoder):
            self._encoders = [encoder]
        elif isinstance(encoder, (list, tuple)) and all(e is True or callable(e) for e in encoder):
            self._encoders = [default_encode if e is True else e for e in encoder]
        else:
            raise PlanError(f"encoder must be True, False, a callable or a list of them, got {encoder!r}")

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        import uuid

        return _TarWriter(f, schema, self._encoders, prefix=f"{uuid.uuid4().hex[:12]}_")
