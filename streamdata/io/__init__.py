"""Datasources and datasinks over fsspec and real engines (Parquet, CSV, JSON, text,
binary, images, NumPy, in-memory data, ...).

Owns the ``Datasource`` / ``Datasink`` interfaces (:mod:`.datasource`, :mod:`.datasink`),
file listing and filesystems (:mod:`.filesystem`), the file-based sources and sinks and
their formats, and size estimates (:mod:`.sizing`).

May import: the base types only (blocks, block metadata, read tasks, write context, tensor
types, errors, context, expressions). Never :mod:`streamdata.exec`, the plan, the runtime,
the facade, ``train`` or ``serve``: read tasks and sinks run inside workers that the
executor starts.
"""
