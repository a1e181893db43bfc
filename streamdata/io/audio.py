"""Audio files (soundfile, an optional extra): ``read_audio``, one row per file with
``amplitude`` (float32, ``(channels, samples)``) and ``sample_rate`` (Ray's columns).

Example:
    >>> import io, fsspec, numpy as np, soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.zeros((8, 2), np.float32), 8000, format="WAV")
    >>> fsspec.filesystem("memory").pipe("/doc/audio/a.wav", buf.getvalue())
    >>> src = AudioDatasource("memory://doc/audio")
    >>> [(b.column("sample_rate").to_pylist(), b.schema.field("amplitude").type.shape)
    ...  for t in src.get_read_tasks(1) for b in t()]
    [([8000], [2, 8])]
"""

from __future__ import annotations

import io
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from streamdata.errors import DataSourceError
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip

AUDIO_EXTENSIONS = ("mp3", "wav", "aac", "flac", "ogg", "m4a", "wma", "alac", "aiff", "pcm", "amr", "opus", "ra",
                    "rm", "au", "mid", "midi", "caf")


class AudioDatasource(FileBasedDatasource):
    """Decoded audio files (see the module docstring)."""

    name = "ReadAudio"
    default_file_extensions = AUDIO_EXTENSIONS
    encoding_ratio = 8.0

    def __init__(self, paths: Any, **kwargs: Any) -> None:
        try:
            import soundfile  # noqa: F401
        except (ImportError, OSError) as exc:  # pragma: no cover - depends on the environment
            raise ImportError("read_audio needs soundfile: pip install 'streamdata[formats]'") from exc
        super().__init__(paths, **kwargs)

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import soundfile

        from streamdata import block as B

        path = unstrip(fs, split.path)
        with self.open_input(fs, split, decompress=False) as f:
            data = f.read()
        try:
            amplitude, rate = soundfile.read(io.BytesIO(data), always_2d=True, dtype="float32")
        except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as exc:
            raise DataSourceError(f"{path} is not a readable audio file: {type(exc).__name__}: {exc}",
                                  path=path) from exc
        yield B.rows_to_table([{"amplitude": np.ascontiguousarray(amplitude.T), "sample_rate": int(rate)}],
                              what=f"read_audio({path})")
