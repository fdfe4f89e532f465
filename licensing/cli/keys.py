"""``licensing keys``: the server's signing keys, and rotating the master key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TextIO

import click
from flask.cli import AppGroup

from licensing.cli import records
from licensing.cli.context import actor, prepare_database, runtime, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.config import (
    MASTER_KEY_ENV,
    PREVIOUS_MASTER_KEY_ENV,
    PREVIOUS_MASTER_KEY_FILE,
    decode_master_key,
    new_master_key,
    replace_key_file,
)
from licensing.errors import ConfigError
from licensing.runtime import sealer_for
from licensing.services import audit, master_key, server_keys
from licensing.services.master_key import DEFAULT_BATCH_SIZE

keys = AppGroup(
    "keys", help="Server signing keys (Ed25519, published as a JWK Set) and the master key."
)


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


@keys.command("rotate-master")
@click.option(
    "--previous-key-file",
    type=click.File("r", encoding="ascii"),
    help="Read the old master key from FILE ('-': standard input) "
    "instead of LICENSING_MASTER_KEY_PREVIOUS.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows re-sealed per committed batch.",
)
@json_option
def keys_rotate_master(previous_key_file: TextIO | None, batch_size: int, as_json: bool) -> None:
    """Re-seal every sealed secret under the current master key (LICENSING_MASTER_KEY).

    The old key comes from LICENSING_MASTER_KEY_PREVIOUS or --previous-key-file. In
    development (the key in <instance>/master.key) a new key is generated there and
    the old one kept as master.key.previous until the rotation completes. Safe to run
    again after an interruption: it carries on where it stopped.
    """
    settings = runtime().settings
    current = settings.master_key
    previous = settings.master_key_previous
    if previous_key_file is not None:
        previous = decode_master_key(previous_key_file.read(), "--previous-key-file")
    key_file = (
        None if settings.master_key_source == MASTER_KEY_ENV else Path(settings.master_key_source)
    )
    if key_file is not None and previous in (None, current):
        prepare_database()  # the key about to become the previous one must open the data
        previous, current = current, _start_key_file_rotation(key_file, current)
    if previous is None:
        raise ConfigError(
            f"rotate-master needs the old master key: set it as {PREVIOUS_MASTER_KEY_ENV} "
            f"(or pass --previous-key-file) and the new one as {MASTER_KEY_ENV}"
        )
    if previous == current:
        raise ConfigError(
            f"the previous master key is the current one: set the new key as {MASTER_KEY_ENV}"
        )
    sealer = sealer_for(current, settings, previous=previous)
    prepare_database(sealer)
    resealed: dict[str, int] = {}
    for batch in master_key.rotate(session(), sealer, batch_size=batch_size):
        session().commit()  # each batch stands on its own: a crash loses no finished batch
        resealed[batch.table] = resealed.get(batch.table, 0) + batch.resealed
    left = master_key.remaining(session(), sealer)
    if left:
        raise ConfigError(
            f"{left} sealed values are still under another master key "
            "(written during the rotation by a server with the old key?): run it again"
        )
    audit.record(
        session(),
        actor=actor(),
        action="master_key.rotated",
        subject_type="master_key",
        subject_id=sealer.key_id,
        data={"previous_key_id": sealer.previous_key_id, "resealed": resealed},
    )
    session().commit()
    if key_file is not None:
        (key_file.parent / PREVIOUS_MASTER_KEY_FILE).unlink(missing_ok=True)
    emit_record(
        {
            "master_key_id": sealer.key_id,
            "previous_key_id": sealer.previous_key_id,
            "resealed": resealed,
            "remaining": left,
        },
        as_json=as_json,
    )


def _start_key_file_rotation(key_file: Path, old: bytes) -> bytes:
    """Keep the old key as master.key.previous, then put a new one in master.key."""
    previous_file = key_file.parent / PREVIOUS_MASTER_KEY_FILE
    if not previous_file.exists():  # present if an earlier run stopped before the swap
        replace_key_file(previous_file, base64.b64encode(old).decode("ascii"))
    text = new_master_key()
    replace_key_file(key_file, text)
    return decode_master_key(text, str(key_file))
