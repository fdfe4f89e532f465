"""The check-in answer's body: the dict builder against a marshmallow ``dump``.

Not a test: it prints figures (µs per answer, 10,000 of each, best of three).

    .venv/bin/python bench/answer_dump.py
"""

from __future__ import annotations

import timeit
import uuid
from datetime import UTC, datetime, timedelta

from licensing.schemas.instance import CheckInAnswer, check_in_body
from licensing.services.instance_calls import Answer, Seats
from licensing.services.license_state import LicenseState
from licensing.services.verdicts import VALID

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STATE = LicenseState(
    id=uuid.uuid4(),
    key_id="k" * 22,
    signing_secret=b"\x00" * 32,
    status="active",
    product_id=uuid.uuid4(),
    product_code="mailserver",
    edition_code="pro",
    expires_at=NOW + timedelta(days=300),
    upgrade_protection_until=NOW + timedelta(days=300),
    processing_restricted=False,
    max_activations=3,
    migration_allowance=1,
    migration_window=timedelta(days=7),
    check_in_interval=timedelta(hours=24),
    offline_grace=timedelta(days=14),
    entitlements=("mailboxes", "archive"),
)
ANSWER = Answer(VALID, STATE, Seats(1, 3), NOW, lease="e30.e30.sig")
SCHEMA = CheckInAnswer()
ECHO = {"nonce": "n" * 22, "server_time": "2026-12-01T12:00:00Z"}


def main() -> None:
    number = 10_000
    built = check_in_body(ANSWER) | ECHO
    assert SCHEMA.dump(built) == built, "the schema dumps what the builder sends"
    cases = {
        "dict builder": lambda: check_in_body(ANSWER),
        "builder + schema dump": lambda: SCHEMA.dump(check_in_body(ANSWER) | ECHO),
    }
    for name, run in cases.items():
        best = min(timeit.repeat(run, number=number, repeat=3))
        print(f"{name:24} {best / number * 1e6:7.1f} µs per answer ({number} answers)")


if __name__ == "__main__":
    main()
