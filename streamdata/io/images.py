"""Image files (Pillow, an optional extra): one row per image, column ``image`` as a tensor
of shape ``(height, width[, channels])``.

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

from streamdata.errors import PlanError
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
