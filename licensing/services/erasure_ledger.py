"""The erasure ledger: erasures written down outside the database, so a restored backup
does not bring erased people back.

One JSON line per erasure, appended after the erasure committed and synced to disk:
when, which customer id, which request id, and an HMAC over those under a key from the
sealer (purpose ``erasure-ledger``), so a line cannot be forged or altered without the
master key. It holds no personal data: a customer id leads nowhere once the customer is
anonymised. ``replay`` erases again every customer a valid line names who is in the
database and has anything left that erasure changes (the restore brought it back; an
anonymised record is not enough, retention anonymises customers whose usage it keeps);
a line whose MAC fails is reported and skipped.
"""

from __future__ import annotations

import hmac
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Customer
from licensing.services import erasure

PURPOSE = "erasure-ledger"


@dataclass(frozen=True, slots=True)
class LedgerLine:
    number: int  # 1-based line number in the file
    erased_at: str
    customer_id: uuid.UUID | None
    request_id: str | None
    mac_ok: bool


def _message(erased_at: str, customer_id: str, request_id: str | None) -> bytes:
    # Canonical: the MAC covers exactly these fields in this order.
    return json.dumps([erased_at, customer_id, request_id], separators=(",", ":")).encode()


def _mac(sealer: Sealer, erased_at: str, customer_id: str, request_id: str | None) -> str:
    return sealer.keyed_hash(PURPOSE, _message(erased_at, customer_id, request_id)).hex()


def append(
    path: Path,
    sealer: Sealer,
    *,
    customer_id: uuid.UUID,
    request_id: uuid.UUID | None,
    erased_at: datetime,
) -> None:
    """Append one line and fsync it (and, for a new file, its folder)."""
    when, who = erased_at.isoformat(), str(customer_id)
    request = None if request_id is None else str(request_id)
    line = {
        "erased_at": when,
        "customer_id": who,
        "request_id": request,
        "mac": _mac(sealer, when, who, request),
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # the file's name is durable only once its folder is synced too
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def read(path: Path, sealer: Sealer) -> Iterator[LedgerLine]:
    """Every line of the ledger, each with whether its MAC holds (a missing file: none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            yield _parse(number, raw, sealer)


def _parse(number: int, raw: str, sealer: Sealer) -> LedgerLine:
    try:
        data = json.loads(raw)
        when, who, request = data["erased_at"], data["customer_id"], data["request_id"]
        given = str(data["mac"])
        customer_id = uuid.UUID(who)
        ok = hmac.compare_digest(given, _mac(sealer, str(when), str(who), request))
    except (ValueError, KeyError, TypeError):
        return LedgerLine(number, "", None, None, mac_ok=False)
    return LedgerLine(number, str(when), customer_id, request, mac_ok=ok)


@dataclass(slots=True)
class ReplayReport:
    dry_run: bool
    lines: int = 0
    # Customers erased again (or, in a dry run, who would be), with the counts.
    replayed: list[erasure.ErasurePlan] = field(default_factory=list)
    # Line numbers whose MAC does not hold: skipped.
    bad_lines: list[int] = field(default_factory=list)
    already_erased: int = 0
    not_in_database: int = 0

    @property
    def touched_tables(self) -> tuple[str, ...]:
        return tuple(sorted({t for p in self.replayed for t in p.touched_tables}))

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "lines": self.lines,
            "replayed": [p.to_json() for p in self.replayed],
            "bad_lines": self.bad_lines,
            "already_erased": self.already_erased,
            "not_in_database": self.not_in_database,
        }


def replay(
    session: Session, sealer: Sealer, path: Path, *, dry_run: bool, actor: str, now: datetime
) -> ReplayReport:
    """Erase again each customer a valid line names who is back in the database."""
    report = ReplayReport(dry_run=dry_run)
    seen: set[uuid.UUID] = set()
    for line in read(path, sealer):
        report.lines += 1
        if not line.mac_ok or line.customer_id is None:
            report.bad_lines.append(line.number)
            continue
        if line.customer_id in seen:
            continue
        seen.add(line.customer_id)
        customer = session.get(Customer, line.customer_id)
        if customer is None:
            report.not_in_database += 1
            continue
        # The plan decides, not ``anonymised_at``: retention anonymises a customer whose
        # contract ended while its usage is kept for months, which the erasure deleted.
        found = erasure.plan(session, line.customer_id, now=now)
        if found.total == 0:  # erased, or a hold kept all of it, then and now
            report.already_erased += 1
            continue
        if dry_run:
            report.replayed.append(found)
        else:
            done = erasure.reapply(session, line.customer_id, actor=actor, now=now)
            report.replayed.append(done.plan)
    return report
