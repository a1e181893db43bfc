"""``TorchVisionPreprocessor`` (Ray's ``ray.data.preprocessors.torch``): a torchvision
transform (or any function of a tensor or an array) applied to image columns.

Each image (each row's array) goes to ``transform`` as a ``torch.Tensor``; a transform that
refuses a tensor with a ``TypeError`` (``ToTensor`` wants an array) gets the array. With
``batched=True`` the whole column goes at once. The results come back as arrays: one
tensor column when every image has the same shape, else one array per row. torchvision
itself is not needed (the transform is the caller's); torch is.

Example:
    >>> import numpy as np
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"image": np.ones((2, 2), dtype=np.float32)}] * 3)
    >>> double = TorchVisionPreprocessor(["image"], transform=lambda t: t * 2)
    >>> double.transform(ds).take(1)[0]["image"].tolist()
    [[2.0, 2.0], [2.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import PreprocessorArgumentError, _columns, _outputs


class TorchVisionPreprocessor(Preprocessor):
    """Apply ``transform`` to each image of ``columns`` (see the module docstring).

    Args:
        columns: the image columns.
        transform: a function of a ``torch.Tensor`` (or an array) returning a tensor or an array.
        output_columns: where to write the results (default: in place).
        batched: give ``transform`` the whole column of a batch at once.
    """

    _is_fittable = False

    def __init__(self, columns: list[str], transform: Callable[[Any], Any], output_columns: list[str] | None = None,
                 batched: bool = False) -> None:
        super().__init__()
        self.columns = _columns("TorchVisionPreprocessor", columns)
        self.output_columns = _outputs("TorchVisionPreprocessor", self.columns, output_columns or None)
        if not callable(transform):
            raise PreprocessorArgumentError(f"TorchVisionPreprocessor: transform must be callable, got "
                                            f"{type(transform).__name__}")
        if not isinstance(batched, bool):
            raise PreprocessorArgumentError(f"TorchVisionPreprocessor: batched must be a bool, got {batched!r}")
        self.torchvision_transform = transform
        self.batched = batched

    def preferred_batch_format(cls) -> str:
        return "numpy"

    def _apply(self, array: np.ndarray) -> np.ndarray:
        import torch

        try:
            out = self.torchvision_transform(torch.as_tensor(np.asarray(array)))
        except TypeError:  # transforms such as ToTensor take an array
            out = self.torchvision_transform(array)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        if not isinstance(out, np.ndarray):
            raise PreprocessorArgumentError(f"TorchVisionPreprocessor: transform must return a torch.Tensor or a "
                                            f"numpy array, it returned a {type(out).__name__}")
        return out

    def _column(self, values: np.ndarray) -> np.ndarray:
        if self.batched:
            return self._apply(values)
        outs = [self._apply(v) for v in values]
        if outs and all(o.shape == outs[0].shape for o in outs):
            return np.stack(outs)
        ragged = np.empty(len(outs), dtype=object)  # images of different shapes: one array per row
        for i, out in enumerate(outs):
            ragged[i] = out
        return ragged

    def _transform_numpy(self, batch: Any) -> Any:
        if not isinstance(batch, Mapping):
            return self._column(batch)
        missing = [c for c in self.columns if c not in batch]
        if missing:
            raise PreprocessorArgumentError(f"TorchVisionPreprocessor: column(s) {missing!r} not in the batch's "
                                            f"columns {list(batch)!r}")
        for col, out in zip(self.columns, self.output_columns):
            batch[out] = self._column(batch[col])
        return batch

    def __repr__(self) -> str:
        return (f"TorchVisionPreprocessor(columns={self.columns!r}, output_columns={self.output_columns!r}, "
                f"transform={self.torchvision_transform!r})")


__all__ = ["TorchVisionPreprocessor"]
