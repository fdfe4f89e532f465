"""``licensing keys``: the server's response- and lease-signing keys."""

from __future__ import annotations

from flask.cli import AppGroup

from licensing.cli import records
from licensing.cli.context import actor, runtime, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.services import server_keys

keys = AppGroup("keys", help="Server signing keys (Ed25519, published as a JWK Set).")


@keys.command("list")
@json_option
@uses_database
def keys_list(as_json: bool) -> None:
    """List signing keys: the active one, retired ones still published, expired ones."""
    rows = [records.server_key(k) for k in server_keys.list_keys(session())]
    emit_records(
        rows, ["kid", "state", "created_at", "retired_at", "published_until"], as_json=as_json
    )


@keys.command("rotate")
@json_option
@uses_database
def keys_rotate(as_json: bool) -> None:
    """Start signing with a new key; old keys stay published until their leases expire."""
    new = server_keys.rotate(session(), runtime().sealer, actor=actor())
    emit_record(records.server_key(new), as_json=as_json)
