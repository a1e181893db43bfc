"""Monitoring: the Prometheus endpoint, the dashboard and session logs (Ray's monitoring story).

Nothing here loads unless asked (``sd.init(include_dashboard=True)``,
``sd.init(_metrics_export_port=...)``), so ``import streamdata`` stays fast.
Reads the runtime through its client, datasets through
:mod:`streamdata.exec.live`, serve and train through what they publish in
:mod:`streamdata.observability.sources`; it shows metadata only, never data values.
"""
