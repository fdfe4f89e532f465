"""Prometheus metrics; aggregated across gunicorn workers when multiprocess mode is on."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Business figures. Every label takes values from a closed set the code defines (verdict
# codes, rejection codes, reasons): never a key, key id, address, name or fingerprint.
CHECK_INS = Counter(
    "licensing_check_ins",
    "Check-ins answered, by verdict code (VALID, EXPIRED, NOT_ACTIVATED, ...).",
    ["code"],
)
SIGNATURE_FAILURES = Counter(
    "licensing_signature_failures",
    "Instance requests whose signature was rejected, by rejection code (PROTOCOL.md §2).",
    ["code"],
)
PARTNER_CHECKS = Counter(
    "licensing_partner_checks",
    "Partner license checks answered, by result (a verdict code or LICENSE_NOT_FOUND).",
    ["result"],
)
PARTNER_AUTH_FAILURES = Counter(
    "licensing_partner_auth_failures",
    "Partner requests refused for want of a valid API key, by reason.",
    ["reason"],
)
STAFF_SIGN_IN_FAILURES = Counter(
    "licensing_staff_sign_in_failures",
    "Failed staff console sign-ins, by outcome (refused, locked, disabled).",
    ["outcome"],
)
PARTNER_AUTH_THROTTLED = Counter(
    "licensing_partner_auth_throttled",
    "Partner requests refused because their address failed authentication too often.",
)

HTTP_REQUESTS = Counter(
    "licensing_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "licensing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CHECK_IN_BATCH = Histogram(
    "licensing_check_in_batch_size",
    "Check-ins written and committed together (group commit, PostgreSQL).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_DURATION.labels(route=route).observe(seconds)


def observe_check_in_batch(size: int) -> None:
    CHECK_IN_BATCH.observe(size)


def observe_check_in(code: str) -> None:
    CHECK_INS.labels(code=code).inc()


def observe_signature_failure(code: str) -> None:
    SIGNATURE_FAILURES.labels(code=code).inc()


def observe_partner_check(result: str) -> None:
    PARTNER_CHECKS.labels(result=result).inc()


def observe_partner_auth_failure(reason: str) -> None:
    PARTNER_AUTH_FAILURES.labels(reason=reason).inc()


def observe_staff_sign_in_failure(outcome: str) -> None:
    STAFF_SIGN_IN_FAILURES.labels(outcome=outcome).inc()


def observe_partner_auth_throttled() -> None:
    PARTNER_AUTH_THROTTLED.inc()


class _Activations(Collector):
    """Activations by status, counted in the database when scraped (not per process)."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "licensing_activations", "Activations on record, by status.", labels=["status"]
        )
        for status, count in sorted(self._counts().items()):
            gauge.add_metric([status], count)
        yield gauge


def exposition(activations: Callable[[], Mapping[str, int]] | None = None) -> tuple[bytes, str]:
    """The text exposition format, merging every worker's values under gunicorn.

    ``activations`` gives the activations by status, read once per scrape: a figure of
    the database, the same whichever worker answers, so it is not kept per process.
    """
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    payload = generate_latest(registry)
    if activations is not None:
        database = CollectorRegistry()
        database.register(_Activations(activations))
        payload += generate_latest(database)
    return payload, CONTENT_TYPE_LATEST
