"""Shared core of the Ray documentation probe (see ../README.md).

- ``rewrite``: the one import rewrite (``ray`` -> ``streamdata``) and the stand-in path map.
- ``units``: a Ray file split into runnable units (``# __x_begin__`` sections, MyST/rst
  ``testcode``/``testsetup``/``doctest`` blocks, docstring examples, ``>>>`` steps).
- ``child``: the process that runs units in one namespace and prints ``RESULT`` lines.
- ``spawn``: starts that process (or a whole script) with timeouts, collects the rows.
- ``report``: the results table, the counts, the comparison with a run on real Ray.
- ``suite``: what a suite declares (its manifest) and the command line every suite shares.
- ``standins``: local files with the same columns and types as the public ones the examples read.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # docs/ray_docs_probe
REPO = HERE.parent.parent  # the streamdata checkout
