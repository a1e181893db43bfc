"""``TorchCheckpoint``: a :class:`~streamdata.train.Checkpoint` holding a torch model
or its state dict in ``model.pt`` (Ray's ``ray.train.torch.TorchCheckpoint``).

torch is imported only when a method runs.

Example:
    >>> import torch
    >>> model = torch.nn.Linear(2, 1)
    >>> ckpt = TorchCheckpoint.from_state_dict(model.state_dict())
    >>> restored = ckpt.get_model(torch.nn.Linear(2, 1))
    >>> bool(torch.equal(restored.weight, model.weight))
    True
"""

from __future__ import annotations

import base64
import os
import pickle
import tempfile
import warnings
from collections import OrderedDict
from typing import Any

from streamdata.train.checkpoint import Checkpoint

#: the metadata key the preprocessor is stored under (pickled, base64), as Ray's
PREPROCESSOR_KEY = "preprocessor_pkl"


def _strip_prefix(state_dict: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``state_dict`` without ``prefix`` on its keys when every key has it (a DDP
    model's ``module.``), as a new dict.

    Example:
        >>> dict(_strip_prefix({"module.w": 1, "module.b": 2}, "module."))
        {'w': 1, 'b': 2}
        >>> _strip_prefix({"w": 1}, "module.")
        {'w': 1}
    """
    keys = list(state_dict)
    if not keys or not all(k.startswith(prefix) for k in keys):
        return dict(state_dict)
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items())
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:  # torch's per-module versions: keyed by module name, stripped too
        out._metadata = OrderedDict(  # type: ignore[attr-defined]
            (k[len(prefix):] if k.startswith(prefix) else ("" if k == prefix[:-1] else k), v)
            for k, v in metadata.items())
    return out


class TorchCheckpoint(Checkpoint):
    """A checkpoint with a torch model (``from_model``) or state dict
    (``from_state_dict``, recommended) in ``model.pt``."""

    __slots__ = ()

    #: the file the model or state dict is saved to
    MODEL_FILENAME = "model.pt"

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Any], *, preprocessor: Any = None) -> TorchCheckpoint:
        """A checkpoint (in a new temporary directory) storing ``state_dict``; a DDP
        model's ``module.`` key prefix is stripped.

        Args:
            state_dict: the model's ``state_dict()``.
            preprocessor: an object stored with it (``get_preprocessor``).
        """
        import torch

        if not isinstance(state_dict, dict):
            raise TypeError("TorchCheckpoint.from_state_dict(state_dict=...) must be a model's state dict, got "
                            f"{type(state_dict).__name__}")
        tempdir = tempfile.mkdtemp(prefix="streamdata-torch-checkpoint-")
        torch.save(_strip_prefix(state_dict, "module."), os.path.join(tempdir, cls.MODEL_FILENAME))
        checkpoint = cls.from_directory(tempdir)
        if preprocessor is not None:
            checkpoint.set_preprocessor(preprocessor)
        return checkpoint

    @classmethod
    def from_model(cls, model: Any, *, preprocessor: Any = None) -> TorchCheckpoint:
        """A checkpoint storing the whole ``model`` (pickled; Ray deprecates this in favour
        of :meth:`from_state_dict`, and so warns).

        Args:
            model: a ``torch.nn.Module``.
            preprocessor: an object stored with it (``get_preprocessor``).
        """
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"TorchCheckpoint.from_model(model=...) must be a torch.nn.Module, got "
                            f"{type(model).__name__}")
        warnings.warn("TorchCheckpoint.from_model is deprecated (as in Ray): save model.state_dict() with "
                      "TorchCheckpoint.from_state_dict instead", DeprecationWarning, stacklevel=2)
        tempdir = tempfile.mkdtemp(prefix="streamdata-torch-checkpoint-")
        torch.save(model, os.path.join(tempdir, cls.MODEL_FILENAME))
        checkpoint = cls.from_directory(tempdir)
        if preprocessor is not None:
            checkpoint.set_preprocessor(preprocessor)
        return checkpoint

    def get_model(self, model: Any = None) -> Any:
        """The model in this checkpoint: the saved module itself (``model`` is then
        ignored, with a warning), or ``model`` with the saved state dict loaded into it.

        Only load checkpoints you trust: a ``from_model`` checkpoint is unpickled.

        Raises:
            RuntimeError: the checkpoint has no ``model.pt``.
            ValueError: it holds a state dict and no ``model`` was given.
        """
        import torch

        model_path = os.path.join(self.path, self.MODEL_FILENAME)
        if not os.path.exists(model_path):
            raise RuntimeError(f"TorchCheckpoint.get_model: {self.MODEL_FILENAME!r} not found in {self.path!r}; "
                               "create the checkpoint with TorchCheckpoint.from_state_dict or from_model")
        saved = torch.load(model_path, map_location="cpu", weights_only=False)
        if isinstance(saved, torch.nn.Module):
            if model is not None:
                warnings.warn("TorchCheckpoint.get_model: the checkpoint holds the whole model; the model= "
                              "argument is discarded", stacklevel=2)
            return saved
        if isinstance(saved, dict):
            if model is None:
                raise ValueError(f"TorchCheckpoint.get_model: {self.path!r} holds a state dict; pass the model "
                                 "to load it into (get_model(model))")
            model.load_state_dict(saved)
            return model
        raise ValueError(f"TorchCheckpoint.get_model: {model_path!r} holds a {type(saved).__name__}, expected a "
                         "torch.nn.Module or a state dict")

    def get_preprocessor(self) -> Any:
        """The preprocessor stored with the checkpoint, or None (unpickled: trust the source)."""
        blob = self.get_metadata().get(PREPROCESSOR_KEY)
        return None if blob is None else pickle.loads(base64.b64decode(blob))

    def set_preprocessor(self, preprocessor: Any) -> None:
        """Store ``preprocessor`` (pickled) in the checkpoint's metadata."""
        self.update_metadata({PREPROCESSOR_KEY: base64.b64encode(pickle.dumps(preprocessor)).decode("ascii")})

    def __repr__(self) -> str:
        return f"TorchCheckpoint(path={self.path!r})"


__all__ = ["TorchCheckpoint"]
