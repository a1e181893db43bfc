"""Hugging Face integrations (``streamdata.train.huggingface.transformers``), as Ray's
``ray.train.huggingface``. Accelerate needs no glue: ``accelerate.Accelerator()``
inside the loop finds the process group the trainer set up."""

from __future__ import annotations
