"""gunicorn settings used by ``licensing serve``."""

from __future__ import annotations

from typing import Any

from prometheus_client import multiprocess

# The application logs every request itself (structured, without client addresses).
accesslog = None
errorlog = "-"
# Proxies in front are configured in the application (LICENSING_TRUSTED_PROXY_HOPS).
forwarded_allow_ips = ""
# No runtime control socket: a fixed path in $HOME would collide between servers.
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics directory."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
