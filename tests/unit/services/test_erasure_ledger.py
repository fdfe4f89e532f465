"""The erasure ledger: one line per erasure holding ids, a time and a MAC, nothing else;
an altered line or one made under another key does not verify."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

from licensing.crypto.sealing import Sealer
from licensing.services import erasure_ledger
from tests.erasure_seed import NOW


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
