"""The prune anchor cannot be vouched for by the database alone.

Someone who can write the database, but holds no master key, can add a key row and sign
an anchor with it, delete the events it stands for, and so hide recent events. The anchor
is checked only with keys kept apart from the database (a saved JWK Set) or with a key
whose private half opens under the master key; and what it pruned must have been past
the audit period when it was signed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict
from licensing.models import ServerKey
from licensing.privacy.categories import RetentionPeriods
from licensing.services import audit, audit_anchors, audit_checkpoints, retention
from licensing.services.audit import ChainHead
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.anchors import (
    OLD,
    add_unsealed_key,
    forge_anchor,
    head_of,
    old_then_new,
    prune_behind_real_anchor,
    public_raw,
    real_private_key,
    recent_events,
)


def test_a_real_anchor_verifies_with_the_master_key_and_says_which_keys_it_used(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    prune_behind_real_anchor(session, sealer, seq)

    report = audit.verify(session, sealer=sealer)

    assert report.intact, report.problem
    assert report.pruned_through == seq
    assert report.notes == (
        f"the prune anchor at event {seq} was checked against the database's own keys "
        "(its private key opens under the master key); `licensing audit verify --jwks` "
        "checks it against a saved JWK Set, kept apart from the database",
    )


def test_without_the_master_key_the_report_says_only_the_database_vouched(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    prune_behind_real_anchor(session, sealer, seq)

    report = audit.verify(session)

    assert report.intact
    assert len(report.notes) == 1 and "database's own keys only" in report.notes[0]


def test_an_anchor_signed_by_a_key_row_not_sealed_under_the_master_key_is_refused(
    session: Session, sealer: Sealer
) -> None:
    """The review's probe: recent events (inside the period) hidden behind a forged anchor."""
    old_then_new(session, sealer)
    checkpoint = audit_checkpoints.issue(session, sealer, issuer="licensing", now=utcnow())
    recent_events(session, 10)
    private, kid = add_unsealed_key(session, sealer)
    target = checkpoint.head.seq + 8  # recent events, after the checkpoint
    # The forger also lies about when the head was written, so that the dates hold.
    forge_anchor(session, target, private, kid, head_at=OLD)

    report = audit.verify(session, sealer=sealer)
    with_checkpoint = audit.verify(session, checkpoint=checkpoint.head, sealer=sealer)

    for refused in (report, with_checkpoint):
        assert not refused.intact
        assert refused.first_broken_seq == target
        assert refused.problem == (
            f"the prune anchor at event {target} was signed by key {kid}, which this "
            "server did not create: its private key does not open under the master key"
        )


def test_a_real_key_row_whose_public_key_was_swapped_is_refused(
    session: Session, sealer: Sealer
) -> None:
    """Its sealed private key still opens (same kid), but it is not the row's public key."""
    seq = old_then_new(session, sealer)
    _, kid = real_private_key(session, sealer)
    forger = Ed25519PrivateKey.generate()
    session.execute(
        update(ServerKey).where(ServerKey.kid == kid).values(public_key=public_raw(forger))
    )
    session.commit()
    forge_anchor(session, seq, forger, kid)

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.problem is not None and "did not create" in report.problem


def test_an_anchor_of_events_younger_than_the_audit_period_is_refused(
    session: Session, sealer: Sealer
) -> None:
    """Even signed with the server's own key (a run with a clock set wrong, say)."""
    old_then_new(session, sealer, recent=4)
    private, kid = real_private_key(session, sealer)
    target = 7  # written today
    forge_anchor(session, target, private, kid)

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.first_broken_seq == target
    assert report.problem is not None
    assert report.problem.startswith(
        f"the prune anchor at event {target} pruned events younger than the audit period"
    )


def test_an_anchor_that_claims_a_period_too_short_to_be_configured_is_refused(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    private, kid = real_private_key(session, sealer)
    forge_anchor(session, seq, private, kid, audit_days=1)

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.problem is not None and "below the least allowed" in report.problem


def test_an_anchor_dated_in_the_future_is_refused(session: Session, sealer: Sealer) -> None:
    seq = old_then_new(session, sealer)
    private, kid = real_private_key(session, sealer)
    forge_anchor(session, seq, private, kid, pruned_at=utcnow() + timedelta(days=1))

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.problem is not None and report.problem.endswith("in the future")


def test_an_anchor_signed_before_its_key_was_created_is_refused(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    private, kid = real_private_key(session, sealer)
    forge_anchor(session, seq, private, kid, pruned_at=utcnow() - timedelta(days=30))

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.problem == (
        f"the prune anchor at event {seq} was signed by key {kid}, created after the prune"
    )


def test_an_anchor_that_does_not_say_when_its_head_was_written_is_refused(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    private, kid = real_private_key(session, sealer)
    digest, _ = head_of(session, seq)
    pruned_at = utcnow().replace(microsecond=0)
    claim = {"seq": seq, "hash": digest, "events": seq, "pruned_at": pruned_at.isoformat()}
    forge_anchor(session, seq, private, kid, pruned_at=pruned_at, claim=claim)

    report = audit.verify(session, sealer=sealer)

    assert not report.intact
    assert report.problem is not None and "does not say when event" in report.problem


def test_trusted_keys_replace_the_database_s(session: Session, sealer: Sealer) -> None:
    seq = old_then_new(session, sealer)
    anchor = prune_behind_real_anchor(session, sealer, seq)
    _, kid = real_private_key(session, sealer)
    other = public_raw(Ed25519PrivateKey.generate())

    accepted = audit.verify(
        session, trusted={kid: public_raw(real_private_key(session, sealer)[0])}
    )
    unknown = audit.verify(session, trusted={"another": other}, sealer=sealer)
    swapped = audit.verify(session, trusted={anchor.kid: other}, sealer=sealer)

    assert accepted.intact and accepted.notes == ()
    assert unknown.problem == (
        f"the prune anchor at event {seq} was signed by a key the given JWK Set never had"
    )
    assert swapped.problem == (
        f"the prune anchor at event {seq} was altered or not signed by this server"
    )


def test_a_checkpoint_behind_the_anchor_is_reported_not_dropped(
    session: Session, sealer: Sealer
) -> None:
    seq = old_then_new(session, sealer)
    behind = ChainHead(seq=seq - 2, hash=head_of(session, seq - 2)[0], events=seq - 2)
    prune_behind_real_anchor(session, sealer, seq)

    report = audit.verify(session, checkpoint=behind, sealer=sealer)

    assert report.intact
    assert (
        f"checkpoint {seq - 2} is behind the prune anchor {seq}: it cannot be checked"
        in report.notes
    )


def test_the_server_never_signs_an_anchor_of_events_inside_the_period(
    session: Session, sealer: Sealer
) -> None:
    old_then_new(session, sealer)
    digest, _ = head_of(session, 7)

    with pytest.raises(Conflict, match="not past the audit period"):
        audit_checkpoints.sign_prune_anchor(
            session,
            sealer,
            ChainHead(seq=7, hash=digest, events=7),
            head_at=utcnow() - timedelta(days=729),
            audit_days=730,
            issuer="licensing",
            now=utcnow(),
        )


def test_retention_never_prunes_on_from_a_forged_anchor(session: Session, sealer: Sealer) -> None:
    old_then_new(session, sealer)
    private, kid = add_unsealed_key(session, sealer)
    forge_anchor(session, 3, private, kid)  # events 1 to 3 were old: only the key is wrong

    runs = [
        retention.enforce(
            session, periods=RetentionPeriods(), as_of=utcnow(), dry_run=dry, sealer=sealer
        )
        for dry in (True, False)
    ]

    for run in runs:
        assert run.counts[Step.AUDIT_EVENTS_PRUNED] == 0
        assert any("chain is broken" in n and "did not create" in n for n in run.notes)
    assert audit_anchors.pruned_through(session) == 3  # no anchor was signed over it
