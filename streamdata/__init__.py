"""streamdata: a streaming data-processing engine for ML and AI workloads.

``import streamdata as sd`` gives Ray Core's runtime API (embedded, no cluster
needed) and Ray Data's Dataset API.
"""

from __future__ import annotations

__version__ = "0.1.0"
