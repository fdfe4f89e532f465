"""CPU of one signed check-in, part by part, inside the application (no HTTP server).

Not a test: it prints figures. It runs ``profile_checkins.py`` with the main steps of the
check-in path wrapped in CPU timers (``time.process_time``), and prints the CPU each
step took per check-in, nested as the calls are. Unlike cProfile it does not slow pure
Python more than C code; each timer adds about a microsecond to the step it times.

    .venv/bin/python bench/checkin_parts.py --backend postgresql --requests 4000
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import profile_checkins

from licensing.api import edge, requests, signatures
from licensing.crypto import httpsig
from licensing.schemas import instance as schemas
from licensing.services import check_ins, instance_calls
from licensing.storage import check_in_batches, group_commit

# (owner, attribute, depth, what): looked up where the path looks them up, at call time.
PARTS: list[tuple[Any, str, int, str]] = [
    (edge, "_check_request", 0, "edge checks (before_request, every request)"),
    (requests, "_start", 0, "request id (before_request, every request)"),
    (signatures, "authenticate", 0, "authentication"),
    (httpsig, "parse_call_home_signature", 1, "signature headers, structure"),
    (httpsig, "check_content_digest", 1, "content digest"),
    (httpsig, "verify_hmac", 1, "RFC 9421 verification (library)"),
    (signatures, "client_ip", 1, "client address"),
    (edge._BodyParser, "parse", 0, "webargs: body to arguments"),
    (schemas.CheckInRequest, "load", 1, "marshmallow load"),
    (instance_calls, "check_in", 0, "check-in service"),
    (instance_calls, "license_verdict", 1, "verdict"),
    (check_ins, "record_call", 1, "record the check-in"),
    (check_ins, "_observation", 2, "observation values, keyed hashes"),
    (group_commit.GroupCommit, "record", 2, "group commit"),
    (check_in_batches, "write_check_ins_postgresql", 3, "batch writer"),
    (check_in_batches, "_run_batch", 4, "driver: execute and fetch"),
    (instance_calls, "_lease", 1, "lease"),
    (signatures, "json_answer", 0, "answer body and response"),
    (signatures, "sign_instance_response", 0, "answer signature (after_request)"),
    (requests, "_finish", 0, "request log and metrics (after_request, every request)"),
]


def instrument(spent: Counter[str]) -> None:
    for owner, name, _, what in PARTS:
        original = getattr(owner, name)

        def timed(*args: Any, _original: Any = original, _what: str = what, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_what] += time.process_time() - started

        setattr(owner, name, functools.wraps(original)(timed))


def main(argv: Sequence[str] | None = None) -> int:
    spent: Counter[str] = Counter()
    runs: list[tuple[float, int, Counter[str]]] = []
    untimed = profile_checkins.timed

    def timed(app: Any, environs: Any, expect: str) -> tuple[float, int]:
        spent.clear()
        cpu, count = untimed(app, environs, expect)
        runs.append((cpu, count, Counter(spent)))
        return cpu, count

    profile_checkins.timed = timed  # type: ignore[assignment]
    instrument(spent)  # before the application is built: hooks are bound when registered
    status = profile_checkins.main(argv)
    cpu, count, parts = runs[-1]  # the check-ins are timed last
    print(f"\n{cpu / count * 1e3:.3f} ms CPU per check-in, of which (timers included):")
    for _, _, depth, what in PARTS:
        if what in parts:
            print(f"{parts[what] / count * 1e3:8.3f} ms  {'  ' * depth}{what}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
