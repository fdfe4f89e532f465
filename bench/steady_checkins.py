"""Signed check-ins at a steady rate (open loop) and their latencies.

Unlike ``checkins.py``'s wrk, which sends as fast as the server answers, this sends each
check-in at its scheduled moment whatever the answers before it did, so a slower server
shows as latency instead of as fewer requests. A latency is measured from the scheduled
moment, so time spent waiting for a free sender counts too (no coordinated omission).
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from checkins import CHECK_IN_PATH, Credentials, signed_request

from licensing.crypto import license_keys

SENDERS = 16


@dataclass(frozen=True, slots=True)
class Seat:
    """One licensed instance of the fleet whose key the bench holds."""

    credentials: Credentials
    fingerprint: str
    server_name: str
    product_version: str

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Seat:
        key = license_keys.parse(entry["key"])
        credentials = Credentials(key.key_id, license_keys.signing_secret(key.normalised), "")
        return cls(
            credentials, entry["fingerprint"], entry["server_name"], entry["product_version"]
        )


@dataclass(slots=True)
class Latencies:
    ok_ms: list[float] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.ok_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "check_ins": len(self.ok_ms),
            "failed": self.failed,
            "seconds": round(self.seconds, 1),
            "rate": round(len(self.ok_ms) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": round(self.percentile(0.50), 1),
            "p90_ms": round(self.percentile(0.90), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "max_ms": round(max(self.ok_ms, default=float("nan")), 1),
        }


def presign(base: str, seats: Sequence[Seat], count: int) -> list[requests.PreparedRequest]:
    """``count`` check-ins signed now (fresh ``created``), each with its own nonce."""
    out = []
    for number in range(count):
        seat = seats[number % len(seats)]
        body = json.dumps(
            {
                "fingerprint": seat.fingerprint,
                "server_name": seat.server_name,
                "product_version": seat.product_version,
                "usage": {"mailboxes": 120},
            },
            separators=(",", ":"),
        ).encode()
        out.append(
            signed_request(seat.credentials, base + CHECK_IN_PATH, body, secrets.token_urlsafe(16))
        )
    return out


def send_steadily(
    signed: Sequence[requests.PreparedRequest], rate: float, until: Callable[[float], bool]
) -> Latencies:
    """Send ``signed`` at ``rate`` per second until ``until(elapsed)`` says stop (or they
    run out); latencies of the answers, from each request's scheduled moment."""
    work: queue.Queue[tuple[float, requests.PreparedRequest] | None] = queue.Queue()
    result = Latencies()
    lock = threading.Lock()

    def sender() -> None:
        with requests.Session() as session:
            while (item := work.get()) is not None:
                scheduled, prepared = item
                try:
                    status = str(session.send(prepared, timeout=30).status_code)
                except requests.RequestException as exc:
                    status = type(exc).__name__
                elapsed_ms = (time.perf_counter() - scheduled) * 1000
                with lock:
                    if status == "200":
                        result.ok_ms.append(elapsed_ms)
                    else:
                        result.failed[status] = result.failed.get(status, 0) + 1

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    for number, prepared in enumerate(signed):
        scheduled = start + number / rate
        if until(scheduled - start):
            break
        time.sleep(max(0.0, scheduled - time.perf_counter()))
        work.put((scheduled, prepared))
    result.seconds = time.perf_counter() - start
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    return result
