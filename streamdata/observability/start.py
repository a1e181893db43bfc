"""What ``sd.init`` starts when asked for monitoring: the dashboard and the metrics endpoint.

:func:`start` is installed as the runtime's monitoring starter by the
``streamdata`` package; core calls it only when ``include_dashboard`` or
``_metrics_export_port`` is given, so a plain ``sd.init()`` loads none of this.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: Ray's default dashboard port
DEFAULT_DASHBOARD_PORT = 8265


class Monitoring:
    """The servers started for one runtime; ``info`` goes into ``sd.init``'s answer."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self._stops: list[Any] = []

    def stop(self) -> None:
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass
        self._stops.clear()


def _check_port(name: str, port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"{name} must be an int port in 0..65535 (0: a free one), got {port!r}")
    return port


def start(runtime: Any, *, include_dashboard: bool, dashboard_host: str, dashboard_port: int | None,
          metrics_export_port: int | None) -> Monitoring:
    """Start the dashboard (``include_dashboard``) and the Prometheus endpoint (``metrics_export_port``)."""
    monitoring = Monitoring()
    try:
        if include_dashboard:
            from streamdata.observability.dashboard import DashboardServer
            port = _check_port("dashboard_port", DEFAULT_DASHBOARD_PORT if dashboard_port is None else dashboard_port)
            try:
                server = DashboardServer(runtime, dashboard_host, port)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or dashboard_port is not None:
                    raise OSError(exc.errno, f"the dashboard cannot listen on {dashboard_host}:{port}: "
                                             f"{exc.strerror}") from exc
                server = DashboardServer(runtime, dashboard_host, 0)  # the default port is taken: any port
                logger.warning("dashboard port %d is in use; the dashboard is at %s", port, server.url)
            monitoring._stops.append(server.stop)
            monitoring.info["dashboard_url"] = server.url
            monitoring.info["webui_url"] = server.url.split("//", 1)[1]
        if metrics_export_port is not None:
            from streamdata.observability.prometheus import start_metrics_server
            http_server, port = start_metrics_server(_check_port("_metrics_export_port", metrics_export_port))

            def stop_metrics() -> None:
                http_server.shutdown()
                http_server.server_close()
            monitoring._stops.append(stop_metrics)
            monitoring.info["metrics_export_port"] = port
    except BaseException:
        monitoring.stop()
        raise
    return monitoring
