"""Helpers the train tests share: a tiny JSON checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from streamdata import train


def json_checkpoint(obj: Any) -> train.Checkpoint:
    """A checkpoint directory holding ``obj`` as ``state.json``."""
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(obj, f)
    return train.Checkpoint.from_directory(d)


def read_json_checkpoint(ckpt: train.Checkpoint) -> Any:
    """What :func:`json_checkpoint` stored."""
    with open(os.path.join(ckpt.path, "state.json")) as f:
        return json.load(f)
