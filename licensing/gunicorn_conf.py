"""gunicorn settings used by ``licensing serve``."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from gunicorn.glogging import Logger
from prometheus_client import multiprocess

from licensing.logs import RedactLicenseKeys

# The application logs every request itself (structured, without client addresses).
accesslog = None
errorlog = "-"
# Proxies in front are configured in the application (LICENSING_TRUSTED_PROXY_HOPS).
forwarded_allow_ips = ""
# No runtime control socket: a fixed path in $HOME would collide between servers.
control_socket_disable = True

# gunicorn's messages about a bad request name the client ("Invalid request from
# ip=...") and quote what it sent (the request line, a header); both are the client's.
_CLIENT = re.compile(r"^Invalid request from ip=.*?: ")
_QUOTED = re.compile(r"""b?'(?:[^'\\]|\\.)*'|b?"(?:[^"\\]|\\.)*\"""")
_REQUEST_TARGET = re.compile(r"^(Error handling request(?: [A-Z]+)?) \S+")


class RedactClientDetails(logging.Filter):
    """Keeps what went wrong in gunicorn's lines, drops who sent it and what it said."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted, about_a_request = _CLIENT.subn("Invalid request: ", message)
        if about_a_request:  # only these quote the client: "Can't connect to ..." stays
            redacted = _QUOTED.sub("'[redacted]'", redacted)
        redacted = _REQUEST_TARGET.sub(r"\1 [redacted]", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class PrivateLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger without client addresses or what clients sent."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, RedactClientDetails) for f in self.error_log.filters):
            self.error_log.addFilter(RedactClientDetails())
            self.error_log.addFilter(RedactLicenseKeys())
            # The access log is off unless an operator switches it on; its format is theirs.
            self.access_log.addFilter(RedactLicenseKeys())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """An access log, if switched on, shows no client address (``%(h)s`` is ``-``)."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["h"] = "-"
        return atoms


logger_class = PrivateLogger


def post_worker_init(worker: Any) -> None:
    """The last of the first workers to be up ends the start-up with where to go next."""
    if worker.age == worker.cfg.workers:
        from licensing.cli.serve import where_next

        print(where_next(f"http://{worker.cfg.bind[0]}"), file=sys.stderr, flush=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics directory."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def worker_exit(server: Any, worker: Any) -> None:
    """Write what the stopping worker tallied but has not flushed yet (invalid signatures)."""
    from licensing.storage.signature_failures import flush_all

    flush_all()
