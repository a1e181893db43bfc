"""Video files (PyAV, an optional extra): ``read_videos``, one row per frame with ``frame``
(uint8 ``(height, width, 3)``), ``frame_index`` and, with ``include_timestamps``,
``frame_timestamp`` (seconds) — Ray's columns.

Frames are decoded in the read task and leave it in blocks of about the DataContext's
target block size, so memory stays bounded however long the video is. ``fps=`` keeps
about that many frames per second (every k-th frame), ``resize=(height, width)`` scales
each kept frame. A corrupt or truncated file raises an error naming it.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from streamdata.errors import DataSourceError, PlanError
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip
from streamdata.io.sizing import target_block_sizes

VIDEO_EXTENSIONS = ("mp4", "mkv", "mov", "avi", "wmv", "flv", "webm", "m4v", "3gp", "mpeg", "mpg", "ts", "ogv",
                    "rm", "rmvb", "vob", "asf", "f4v", "m2ts", "mts", "divx", "xvid", "mxf")


def frames_table(frames: list[np.ndarray], indices: list[int], stamps: list[float] | None) -> pa.Table:
    """One block of frames (a fixed-shape tensor column when the frames share a shape)."""
    from streamdata import block as B

    cols: dict[str, Any] = {"frame": frames, "frame_index": np.asarray(indices, dtype=np.int64)}
    if stamps is not None:
        cols["frame_timestamp"] = np.asarray(stamps, dtype=np.float64)
    if len({f.shape for f in frames}) == 1:
        cols["frame"] = np.stack(frames)
    return B.numpy_to_table(cols, what="read_videos")


class VideoDatasource(FileBasedDatasource):
    """Decoded video frames (see the module docstring)."""

    name = "ReadVideos"
    default_file_extensions = VIDEO_EXTENSIONS
    encoding_ratio = 50.0
    prefetch_small_files = False

    def __init__(self, paths: Any, *, include_timestamps: bool = False, fps: int | None = None,
                 resize: tuple[int, int] | None = None, **kwargs: Any) -> None:
        try:
            import av  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("read_videos needs PyAV: pip install 'streamdata[formats]'") from exc
        if fps is not None and (not isinstance(fps, int) or fps <= 0):
            raise PlanError(f"read_videos: fps must be a positive int, got {fps!r}")
        if resize is not None and (len(resize) != 2 or not all(isinstance(d, int) and d > 0 for d in resize)):
            raise PlanError(f"read_videos: resize must be (height, width) of positive ints, got {resize!r}")
        super().__init__(paths, **kwargs)
        self._timestamps = bool(include_timestamps)
        self._fps = fps
        self._resize = resize

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import av

        path = unstrip(fs, split.path)
        _, max_bytes = target_block_sizes()
        frames: list[np.ndarray] = []
        indices: list[int] = []
        stamps: list[float] | None = [] if self._timestamps else None
        size = 0
        with self.open_input(fs, split, decompress=False) as f:
            try:
                container = av.open(f, mode="r")
            except (av.FFmpegError, ValueError, OSError) as exc:
                raise DataSourceError(f"{path} is not a readable video: {type(exc).__name__}: {exc}",
                                      path=path) from exc
            with container:
                if not container.streams.video:
                    raise DataSourceError(f"{path} has no video stream", path=path)
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                stride = 1
                if self._fps is not None and stream.average_rate:
                    stride = max(1, round(float(stream.average_rate) / self._fps))
                try:
                    for index, frame in enumerate(container.decode(stream)):
                        if index % stride:
                            continue
                        if self._resize is not None:
                            frame = frame.reformat(width=self._resize[1], height=self._resize[0])
                        arr = frame.to_ndarray(format="rgb24")
                        frames.append(arr)
                        indices.append(index)
                        if stamps is not None:
                            stamps.append(float(frame.time) if frame.time is not None else index / float(
                                stream.average_rate or 1))
                        size += arr.nbytes
                        if size >= max_bytes:
                            yield frames_table(frames, indices, stamps)
                            frames, indices, size = [], [], 0
                            stamps = [] if stamps is not None else None
                except av.FFmpegError as exc:
                    raise DataSourceError(f"{path}: decoding failed after {len(indices)} frames: "
                                          f"{type(exc).__name__}: {exc}", path=path) from exc
        if frames:
            yield frames_table(frames, indices, stamps)
