"""``licensing audit verify`` after retention pruned: the prune anchor is checked with a
saved JWK Set (``--jwks``) when given, else with a key sealed under the master key."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from licensing.crypto.encoding import b64url
from licensing.crypto.sealing import Sealer
from licensing.services import server_keys
from tests.anchors import (
    add_unsealed_key,
    forge_anchor,
    old_events,
    old_then_new,
    prune_behind_real_anchor,
    public_raw,
    recent_events,
)
from tests.functional.cli.invoke import Licensing


def _saved_jwks(session: Session, path: Path) -> Path:
    path.write_text(json.dumps(server_keys.jwks(session)))
    return path


def test_jwks_with_the_real_keys_accepts_a_real_anchor_without_a_checkpoint(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    seq = old_then_new(session, sealer)
    saved = _saved_jwks(session, tmp_path / "jwks.json")
    prune_behind_real_anchor(session, sealer, seq)

    verified = licensing.json("audit", "verify", "--jwks", str(saved))
    text = licensing.ok("audit", "verify")

    assert verified["intact"] is True
    assert verified["pruned"].startswith(f"events 1 to {seq} on ")
    assert "notes" not in verified  # the saved set vouched, not the database
    assert (
        f"note: the prune anchor at event {seq} was checked against the database's own keys" in text
    )


def test_jwks_refuses_an_anchor_signed_by_another_key(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    seq = old_then_new(session, sealer)
    saved = _saved_jwks(session, tmp_path / "jwks.json")
    private, kid = add_unsealed_key(session, sealer)
    forge_anchor(session, seq, private, kid)

    with_jwks = licensing.run("audit", "verify", "--jwks", str(saved), "--json")
    without = licensing.run("audit", "verify", "--json")

    assert with_jwks.exit_code == 1
    assert json.loads(with_jwks.output)["problem"] == (
        f"the prune anchor at event {seq} was signed by a key the given JWK Set never had"
    )
    # Without the set, the key must open under the master key: this one does not.
    assert without.exit_code == 1
    assert "did not create" in json.loads(without.output)["problem"]


def test_jwks_refuses_a_real_anchor_when_the_set_holds_another_key_under_its_kid(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    seq = old_then_new(session, sealer)
    anchor = prune_behind_real_anchor(session, sealer, seq)
    other = b64url(public_raw(Ed25519PrivateKey.generate()))
    impostor = tmp_path / "other.json"
    impostor.write_text(json.dumps({"keys": [dict(server_keys.jwks(session)["keys"][0], x=other)]}))

    refused = licensing.run("audit", "verify", "--jwks", str(impostor), "--json")

    assert json.loads(impostor.read_text())["keys"][0]["kid"] == anchor.kid
    assert refused.exit_code == 1
    assert json.loads(refused.output)["problem"] == (
        f"the prune anchor at event {seq} was altered or not signed by this server"
    )


def test_several_saved_sets_merge_for_keys_rotated_since(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path, actor: str
) -> None:
    seq = old_then_new(session, sealer)
    before = _saved_jwks(session, tmp_path / "before.json")
    prune_behind_real_anchor(session, sealer, seq)
    server_keys.rotate(session, sealer, actor=actor)
    session.commit()
    rotated = tmp_path / "after.json"
    newest = server_keys.jwks(session)["keys"][0]
    rotated.write_text(json.dumps({"keys": [newest]}))  # the old key has left this set

    alone = licensing.run("audit", "verify", "--jwks", str(rotated))
    merged = licensing.json("audit", "verify", "--jwks", str(rotated), "--jwks", str(before))

    assert alone.exit_code == 1
    assert merged["intact"] is True


def test_a_checkpoint_behind_the_anchor_is_named_in_the_output(
    licensing: Licensing, session: Session, sealer: Sealer, tmp_path: Path
) -> None:
    old_then_new(session, sealer, recent=0)  # the key's creation (event 6) is the head
    checkpoint = tmp_path / "head.jwt"
    licensing.ok("audit", "checkpoint", "--output", str(checkpoint))
    old_events(session, 3)  # events 7 to 9, dated past the period
    recent_events(session, 1)
    prune_behind_real_anchor(session, sealer, 8)

    verified = licensing.json("audit", "verify", "--checkpoint", str(checkpoint))
    text = licensing.ok("audit", "verify", "--checkpoint", str(checkpoint))

    assert verified["intact"] is True
    assert verified["checkpoint_seq"] == 6
    behind = "checkpoint 6 is behind the prune anchor 8: it cannot be checked"
    assert behind in verified["notes"]
    assert f"note: {behind}" in text
