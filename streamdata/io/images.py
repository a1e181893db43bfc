"""Image files (Pillow, an optional extra): one row per image, column ``image`` as a tensor
of shape ``(height, width[, channels])``; and :class:`ImageDatasink` (``write_images``),
one file per row.

``size=(height, width)`` resizes every image and ``mode=`` converts it (``"RGB"``,
``"L"``...). Within a block, images of one shape form a fixed-shape tensor column,
images of different shapes a variable-shape one. An unreadable image raises an error
naming the file (or is skipped under ``DataContext.max_errored_blocks``).

Example:
    >>> import io, fsspec
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 2)).save(buf, format="PNG")
    >>> fsspec.filesystem("memory").pipe("/doc/img/a.png", buf.getvalue())
    >>> src = ImageDatasource("memory://doc/img", size=(3, 5))
    >>> [b.schema.field("image").type.shape for t in src.get_read_tasks(1) for b in t()]
    [[3, 5, 3]]
"""

from __future__ import annotations

import io
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from streamdata.errors import ColumnNotFoundError, DataSinkError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.tensor import VariableShapeTensorArray, VariableShapeTensorType

IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp")


class ImageDatasource(FileBasedDatasource):
    """Decoded images (see the module docstring)."""

    name = "ReadImage"
    default_file_extensions = IMAGE_EXTENSIONS
    encoding_ratio = 5.0

    def __init__(self, paths: Any, *, size: Sequence[int] | None = None, mode: str | None = None,
                 **kwargs: Any) -> None:
        try:
            import PIL  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("read_images needs Pillow: pip install 'streamdata[images]'") from exc
        if size is not None:
            if len(size) != 2 or not all(isinstance(d, int) and d > 0 for d in size):
                raise PlanError(f"size must be (height, width) of positive ints, got {size!r}")
            size = (int(size[0]), int(size[1]))
        super().__init__(paths, **kwargs)
        self._size = size
        self._mode = mode

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        from PIL import Image

        with self.open_input(fs, split, decompress=False) as f:
            data = f.read()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if self._mode is not None and img.mode != self._mode:
                img = img.convert(self._mode)
            if self._size is not None:
                height, width = self._size
                if img.size != (width, height):
                    img = img.resize((width, height))
            arr = np.asarray(img)
        yield pa.table({"image": VariableShapeTensorArray.from_numpy([arr])})

    def finalize_block(self, table: pa.Table) -> pa.Table:
        """Images of one shape in a block become a fixed-shape tensor column."""
        if "image" not in table.column_names:
            return table
        col = table.column("image")
        if not isinstance(col.type, VariableShapeTensorType) or len(col) == 0:
            return table
        chunk = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        rows = chunk.to_numpy_ndarrays()
        if any(r is None for r in rows) or len({r.shape for r in rows}) != 1:
            return table
        fixed = pa.FixedShapeTensorArray.from_numpy_ndarray(np.stack(rows))
        idx = table.column_names.index("image")
        return table.set_column(idx, pa.field("image", fixed.type), fixed)


class _ImageWriter(FileWriter):
    """Writes one row's image into one file."""

    def __init__(self, f: Any, schema: pa.Schema, column: str, file_format: str) -> None:
        super().__init__(f, schema)
        self.column = column
        self.file_format = file_format

    def accepts(self, table: pa.Table) -> bool:
        return True

    def write(self, table: pa.Table) -> None:
        from PIL import Image

        from streamdata import block as B

        for row in B.iter_rows(table.select([self.column])):
            value = row[self.column]
            arr = np.asarray(value)
            if arr.dtype != np.uint8 and arr.dtype != np.bool_:
                if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() >= 0 and arr.max() <= 1:
                    arr = (arr * 255).round()
                arr = np.clip(arr, 0, 255).astype(np.uint8)
            if arr.ndim == 3 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            try:
                Image.fromarray(arr).save(self.f, format=self.file_format)
            except (TypeError, ValueError, OSError, KeyError) as exc:
                raise DataSinkError(f"write_images: column {self.column!r} holds a value of shape {arr.shape} that "
                                    f"is not an image ({type(exc).__name__}: {exc})") from exc


class ImageDatasink(FileDatasink):
    """One image file per row from column ``column`` (an ``(height, width[, channels])`` array),
    encoded by Pillow as ``file_format`` (``"png"``, ``"jpeg"``, ...).

    Example:
        >>> import fsspec, numpy as np, pyarrow as pa
        >>> from streamdata.write_context import WriteContext
        >>> sink = ImageDatasink("memory://doc/imgout", column="image")
        >>> sink.on_write_start()
        >>> img = pa.FixedShapeTensorArray.from_numpy_ndarray(np.zeros((2, 4, 4, 3), np.uint8))
        >>> r = sink.write([pa.table({"image": img})], WriteContext("w", 0))
        >>> sink.on_write_complete([r])
        >>> len(fsspec.filesystem("memory").ls("/doc/imgout"))
        2
    """

    name = "WriteImages"

    def __init__(self, path: str, *, column: str, file_format: str = "png", **kwargs: Any) -> None:
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("write_images needs Pillow: pip install 'streamdata[images]'") from exc
        fmt = file_format.lower().lstrip(".")
        pil = {"jpg": "JPEG"}.get(fmt, fmt.upper())
        Image.init()
        if pil not in Image.SAVE:
            raise PlanError(f"write_images: file_format {file_format!r} is not one Pillow can write "
                            f"({sorted(k.lower() for k in Image.SAVE)})")
        kwargs["max_rows_per_file"] = 1
        super().__init__(path, **kwargs)
        self.extension = fmt
        self._column = column
        self._pil_format = pil

    def prepare_block(self, table: pa.Table) -> pa.Table:
        if self._column not in table.column_names:
            raise ColumnNotFoundError(self._column, table.column_names)
        return table

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _ImageWriter(f, schema, self._column, self._pil_format)
