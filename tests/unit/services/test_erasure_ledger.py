"""The erasure ledger: one line per erasure holding ids, a time and a MAC, nothing else;
an altered line or one made under another key does not verify; replay goes by what is
left to erase, not by whether the customer was anonymised."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, UsageObservation
from licensing.services import anonymisation, erasure_ledger
from tests.erasure_seed import NOW
from tests.unit.services.subject_seeding import Subject, seed_subject


def test_a_line_holds_ids_time_and_a_mac_and_verifies(sealer: Sealer, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.jsonl"
    customer, request = uuid.uuid4(), uuid.uuid4()
    erasure_ledger.append(path, sealer, customer_id=customer, request_id=request, erased_at=NOW)
    erasure_ledger.append(path, sealer, customer_id=customer, request_id=None, erased_at=NOW)

    lines = [json.loads(raw) for raw in path.read_text().splitlines()]
    assert set(lines[0]) == {"erased_at", "customer_id", "request_id", "mac"}
    assert lines[0]["customer_id"] == str(customer) and lines[1]["request_id"] is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read = list(erasure_ledger.read(path, sealer))
    assert [line.mac_ok for line in read] == [True, True]
    assert read[0].customer_id == customer


def test_an_altered_line_a_garbled_line_and_another_key_fail(
    sealer: Sealer, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    erasure_ledger.append(path, sealer, customer_id=uuid.uuid4(), request_id=None, erased_at=NOW)
    line = json.loads(path.read_text())
    line["customer_id"] = str(uuid.uuid4())  # someone else's id under the old MAC
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
        handle.write("not json\n")

    assert [line.mac_ok for line in erasure_ledger.read(path, sealer)] == [True, False, False]
    stranger = Sealer(bytes(range(1, 33)))
    assert not any(line.mac_ok for line in erasure_ledger.read(path, stranger))


def test_a_missing_ledger_has_no_lines(sealer: Sealer, tmp_path: Path) -> None:
    assert list(erasure_ledger.read(tmp_path / "none.jsonl", sealer)) == []


def test_replay_erases_the_usage_kept_of_a_customer_retention_anonymised(
    session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    # The backup's state: retention anonymised the customer (contract ended) and kept its
    # usage; the erasure after the backup deleted that usage and wrote the ledger line.
    s = seed_subject(session, sealer, name="Ann Restored", ip="198.51.100.9", server_name="mx.ann")
    anonymisation.anonymise_customer(session, s.customer, now=NOW)
    session.flush()
    ledger = tmp_path / "ledger.jsonl"
    erasure_ledger.append(ledger, sealer, customer_id=s.customer.id, request_id=None, erased_at=NOW)

    dry = erasure_ledger.replay(session, sealer, ledger, dry_run=True, actor="t:t", now=NOW)
    assert dry.already_erased == 0 and len(dry.replayed) == 1
    assert _rows(session, UsageObservation, s) > 0

    done = erasure_ledger.replay(session, sealer, ledger, dry_run=False, actor="t:t", now=NOW)
    assert done.already_erased == 0
    assert done.replayed[0].counts["usage_observations"] > 0
    assert done.replayed[0].counts["customers"] == 0  # already anonymised
    assert _rows(session, UsageObservation, s) == 0
    assert _rows(session, Activation, s) == 0

    again = erasure_ledger.replay(session, sealer, ledger, dry_run=False, actor="t:t", now=NOW)
    assert again.replayed == [] and again.already_erased == 1


def _rows(session: Session, model: type[UsageObservation] | type[Activation], s: Subject) -> int:
    query = select(func.count()).select_from(model).where(model.license_id == s.license.id)
    return int(session.scalar(query) or 0)
