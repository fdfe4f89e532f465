"""Signed checkpoints make a chain cut short, rewritten or altered fail verification."""

from __future__ import annotations

import dataclasses
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from licensing import jobs
from licensing.crypto.encoding import b64url
from licensing.crypto.leases import LEASE_TYPE
from licensing.crypto.sealing import Sealer
from licensing.errors import ConfigError, Conflict
from licensing.models import AuditEvent
from licensing.runtime import EXTENSION_KEY
from licensing.services import audit, audit_checkpoints, server_keys
from licensing.services.audit_checkpoints import CheckpointInvalid
from tests.unit.services.test_audit import record_events, reload

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://licensing.example.com"


@pytest.fixture
def signed_chain(session: Session, sealer: Sealer, actor: str) -> str:
    """Five events (the first creates the signing key) and a checkpoint of them."""
    server_keys.ensure_active_key(session, sealer, actor=actor)
    record_events(session, 4)
    reload(session)
    return audit_checkpoints.issue(session, sealer, issuer=ISSUER, now=NOW).token


def verify_with(session: Session, token: str) -> audit.ChainReport:
    reload(session)
    return audit.verify(session, checkpoint=audit_checkpoints.read(session, token).head)


def test_a_checkpoint_holds_the_signed_head(session: Session, signed_chain: str) -> None:
    checkpoint = audit_checkpoints.read(session, signed_chain)
    newest = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert newest is not None
    assert checkpoint.head == audit.ChainHead(seq=5, hash=newest.hash, events=5)
    assert checkpoint.issued_at == NOW
    assert jwt.get_unverified_header(signed_chain)["typ"] == "audit-checkpoint+jwt"
    claims = jwt.decode(signed_chain, options={"verify_signature": False})
    assert claims["iss"] == ISSUER
    assert "aud" not in claims  # so no lease verifier takes it for a lease


def test_the_intact_chain_verifies_against_its_checkpoint(
    session: Session, signed_chain: str
) -> None:
    report = verify_with(session, signed_chain)
    assert (report.intact, report.events, report.checkpoint_seq) == (True, 5, 5)


def test_truncating_the_newest_events_fails(session: Session, signed_chain: str) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
    reload(session)
    assert audit.verify(session).intact  # the links alone cannot see the cut

    report = verify_with(session, signed_chain)
    assert (report.intact, report.first_broken_seq) == (False, 4)
    assert report.problem == "events 4 to 5 are missing: the checkpoint covers 5"


def test_removing_only_the_newest_event_fails(session: Session, signed_chain: str) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))

    report = verify_with(session, signed_chain)
    assert report.problem == "event 5 is missing: the checkpoint covers 5"


def test_an_empty_chain_fails_a_checkpoint_of_events(session: Session, signed_chain: str) -> None:
    session.execute(delete(AuditEvent))

    report = verify_with(session, signed_chain)
    assert report.problem == "events 1 to 5 are missing: the checkpoint covers 5"


def test_an_altered_event_fails(session: Session, signed_chain: str) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone-else"))

    report = verify_with(session, signed_chain)
    assert (report.intact, report.first_broken_seq) == (False, 3)
    assert report.problem == "event 3 was altered after it was written"


def test_a_rewritten_chain_whose_links_hold_fails(session: Session, signed_chain: str) -> None:
    """Alter event 3 and recompute every hash after it: only the checkpoint notices."""
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    for event in events[2:]:
        if event.seq == 3:
            event.actor = "someone-else"
        event.prev_hash = events[event.seq - 2].hash
        event.hash = audit.event_hash(event)
    reload(session)
    assert audit.verify(session).intact

    report = verify_with(session, signed_chain)
    assert (report.intact, report.first_broken_seq) == (False, 5)
    assert report.problem == "event 5 differs from the checkpoint: chain rewritten"


def test_a_checkpoint_verifies_after_further_events(session: Session, signed_chain: str) -> None:
    record_events(session, 3)

    report = verify_with(session, signed_chain)
    assert (report.intact, report.events, report.checkpoint_seq) == (True, 8, 5)


def test_a_checkpoint_verifies_after_the_signing_key_is_rotated_and_expired(
    session: Session, sealer: Sealer, actor: str, signed_chain: str
) -> None:
    server_keys.rotate(session, sealer, actor=actor, now=NOW)
    server_keys.rotate(session, sealer, actor=actor, now=NOW + timedelta(days=1))
    signer = jwt.get_unverified_header(signed_chain)["kid"]
    assert signer not in {
        k["kid"] for k in server_keys.jwks(session, now=NOW + timedelta(days=90))["keys"]
    }

    report = verify_with(session, signed_chain)
    assert (report.intact, report.events, report.checkpoint_seq) == (True, 7, 5)


def _tokens(genuine: str) -> dict[str, str]:
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    stranger = Ed25519PrivateKey.generate()
    signed_part, _, signature = genuine.rpartition(".")
    head, _, _ = signed_part.partition(".")
    edited = dict(claims, audit_head=dict(claims["audit_head"], seq=3, events=3))
    edited_payload = b64url(json.dumps(edited, separators=(",", ":")).encode())
    return {
        "unknown key": jwt.encode(
            claims, stranger, algorithm="EdDSA", headers={"typ": header["typ"], "kid": "k" * 43}
        ),
        "another key, same kid": jwt.encode(claims, stranger, algorithm="EdDSA", headers=header),
        "edited": f"{head}.{edited_payload}.{signature}",
    }


@pytest.mark.parametrize(
    ("forgery", "problem"),
    [
        ("unknown key", "checkpoint signed by a key this server never had"),
        ("another key, same kid", "checkpoint signature does not verify"),
        ("edited", "checkpoint signature does not verify"),
    ],
)
def test_a_forged_checkpoint_is_refused(
    session: Session, signed_chain: str, forgery: str, problem: str
) -> None:
    with pytest.raises(CheckpointInvalid) as refused:
        audit_checkpoints.read(session, _tokens(signed_chain)[forgery])
    assert refused.value.detail == problem


def test_a_lease_is_not_a_checkpoint(session: Session, sealer: Sealer, signed_chain: str) -> None:
    key = server_keys.signing_key(session, sealer)
    claims = jwt.decode(signed_chain, options={"verify_signature": False})
    lease = jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": LEASE_TYPE}
    )

    with pytest.raises(CheckpointInvalid, match="not an audit checkpoint"):
        audit_checkpoints.read(session, lease)
    with pytest.raises(CheckpointInvalid, match="not a signed token"):
        audit_checkpoints.read(session, "hello")


def test_a_broken_chain_is_not_checkpointed(
    session: Session, sealer: Sealer, signed_chain: str
) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    reload(session)

    with pytest.raises(Conflict, match="broken"):
        audit_checkpoints.issue(session, sealer, issuer=ISSUER, now=NOW)


def test_the_job_writes_one_owner_only_file_per_head(
    app: Flask, session: Session, sealer: Sealer, actor: str, tmp_path: Path
) -> None:
    runtime = app.extensions[EXTENSION_KEY]
    directory = tmp_path / "checkpoints"
    settings = dataclasses.replace(runtime.settings, audit_checkpoint_dir=directory)
    context = jobs.JobContext(settings=settings, sealer=sealer)
    server_keys.ensure_active_key(session, sealer, actor=actor)

    def run() -> int:
        return jobs.run(session, now=NOW, context=context, only="audit-checkpoint")[0].affected

    assert (run(), run()) == (1, 0)  # the second run finds this head written
    record_events(session, 2)
    assert run() == 1

    files = sorted(directory.iterdir())
    assert [f.name for f in files] == [
        "audit-checkpoint-000000000001.jwt",
        "audit-checkpoint-000000000003.jwt",
    ]
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    newest = audit_checkpoints.read(session, files[-1].read_text(encoding="ascii"))
    assert (newest.head.seq, newest.head.events) == (3, 3)
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    assert not verify_with(session, files[-1].read_text(encoding="ascii")).intact


def test_the_job_waits_for_a_signing_key(session: Session, sealer: Sealer, tmp_path: Path) -> None:
    record_events(session, 1)
    written = audit_checkpoints.write_to_directory(
        session, sealer, tmp_path / "checkpoints", issuer=ISSUER, now=NOW
    )
    assert written == 0
    assert not (tmp_path / "checkpoints").exists()


def test_an_unwritable_checkpoint_directory_is_one_line_naming_the_setting(
    session: Session, sealer: Sealer, actor: str, tmp_path: Path
) -> None:
    server_keys.ensure_active_key(session, sealer, actor=actor)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    with pytest.raises(ConfigError, match="LICENSING_AUDIT_CHECKPOINT_DIR") as refused:
        audit_checkpoints.write_to_directory(session, sealer, not_a_folder, issuer=ISSUER, now=NOW)
    assert str(not_a_folder) in refused.value.detail


def test_the_job_refuses_a_chain_cut_and_grown_again(
    app: Flask, session: Session, sealer: Sealer, actor: str, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    settings = dataclasses.replace(
        app.extensions[EXTENSION_KEY].settings, audit_checkpoint_dir=directory
    )
    context = jobs.JobContext(settings=settings, sealer=sealer)
    server_keys.ensure_active_key(session, sealer, actor=actor)
    record_events(session, 15)
    assert jobs.run(session, now=NOW, context=context, only="audit-checkpoint")[0].affected == 1
    session.execute(delete(AuditEvent).where(AuditEvent.seq >= 15))
    reload(session)
    record_events(session, 3)  # the chain is at 17 again, its links all hold
    reload(session)
    assert audit.verify(session).intact

    with pytest.raises(Conflict) as refused:
        jobs.run(session, now=NOW, context=context, only="audit-checkpoint")

    assert refused.value.detail.startswith("refusing to sign the audit chain: event 16 differs")
    assert "\n" not in refused.value.detail
    assert [f.name for f in directory.iterdir()] == ["audit-checkpoint-000000000016.jwt"]


def test_the_job_verifies_only_the_events_after_the_previous_checkpoint(
    app: Flask, session: Session, sealer: Sealer, actor: str, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    server_keys.ensure_active_key(session, sealer, actor=actor)
    record_events(session, 4)
    reload(session)

    def write() -> int:
        return audit_checkpoints.write_to_directory(
            session, sealer, directory, issuer=ISSUER, now=NOW
        )

    assert write() == 1
    record_events(session, 2)
    reload(session)
    walked: list[audit.ChainHead | None] = []
    verify = audit.verify

    def spy(session: Session, **options: audit.ChainHead | None) -> audit.ChainReport:
        walked.append(options.get("since"))
        return verify(session, **options)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "verify", spy)
        assert write() == 1

    assert [mark.seq if mark else None for mark in walked] == [5]


def test_an_altered_event_is_not_checkpointed(
    session: Session, sealer: Sealer, signed_chain: str
) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(data={"number": 99}))
    reload(session)
    assert session.scalar(select(AuditEvent.data).where(AuditEvent.seq == 3)) == {"number": 99}

    with pytest.raises(Conflict) as refused:
        audit_checkpoints.issue(session, sealer, issuer=ISSUER, now=NOW)

    assert "event 3 was altered after it was written" in refused.value.detail
