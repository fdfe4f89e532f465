"""``licensing privacy request|search|export|rectify|restrict|lift-restriction``: the data
subjects' rights, each served on a privacy request recorded first (erasure is
``licensing privacy erase``)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import UTC_DATE, actor, runtime, session, uses_database
from licensing.cli.options import REASON
from licensing.cli.output import emit_json, emit_record, emit_records, json_option
from licensing.cli.privacy import privacy
from licensing.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from licensing.services import (
    customers,
    privacy_requests,
    processing_restriction,
    rectification,
    subject_export,
    subject_search,
)
from licensing.services.disclosure_recipients import Recipient
from licensing.timeutil import utcnow

request_group = AppGroup(
    "request", help="Data-subject requests: record, list, show, refuse, name the subject."
)
privacy.add_command(request_group)

_KINDS = click.Choice([k.value for k in PrivacyRequestKind])


class RequestId(click.ParamType[uuid.UUID, Any]):
    name = "request-id"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a privacy request id", param, ctx)


REQUEST_ID = RequestId()
request_option = click.option(
    "--request", "request_id", type=REQUEST_ID, required=True, help="The privacy request's id."
)


def request_record(r: PrivacyRequest, *, now: datetime) -> dict[str, Any]:
    overdue = r.status == PrivacyRequestStatus.OPEN and r.due_at < now
    return {
        "id": r.id,
        "kind": r.kind,
        "status": r.status,
        "customer_id": r.customer_id,
        "received_at": r.received_at,
        "due_at": r.due_at,
        "overdue": overdue,
        "identity_verification": r.identity_verification,
        "recorded_by": r.recorded_by,
        "closed_at": r.closed_at,
        "closed_by": r.closed_by,
        "outcome": r.outcome,
    }


def _recipient(r: Recipient) -> dict[str, Any]:
    return {
        "partner_id": r.partner_id,
        "partner": r.partner,
        "kind": r.kind,
        "fields": list(r.fields),
        "disclosures": r.disclosures,
        "last_disclosed_at": r.last_disclosed_at,
    }


@request_group.command("record")
@click.option("--kind", type=_KINDS, required=True, help="The right exercised.")
@click.option("--customer", default=None, help="The data subject, by id or e-mail, if known.")
@click.option(
    "--received", type=UTC_DATE, default=None, help="When it was received (default: now)."
)
@click.option("--verified", required=True, help="How the requester's identity was checked.")
@json_option
@uses_database
def request_record_command(
    kind: str, customer: str | None, received: datetime | None, verified: str, as_json: bool
) -> None:
    """Record a data-subject request as received; prints its id and due date."""
    now = utcnow()
    customer_id = customers.get_customer(session(), customer).id if customer else None
    recorded = privacy_requests.record(
        session(),
        kind=PrivacyRequestKind(kind),
        customer_id=customer_id,
        received_at=received or now,
        identity_verification=verified,
        actor=actor(),
        now=now,
    )
    emit_record({"id": recorded.id, "due_at": recorded.due_at}, as_json=as_json)


@request_group.command("list")
@click.option("--open", "only_open", is_flag=True, help="Open requests only.")
@click.option("--overdue", is_flag=True, help="Open requests past their due date only.")
@json_option
@uses_database
def request_list(only_open: bool, overdue: bool, as_json: bool) -> None:
    """List requests, those due soonest first."""
    now = utcnow()
    if overdue:
        found = privacy_requests.overdue(session(), now=now)
    else:
        status = PrivacyRequestStatus.OPEN if only_open else None
        found = privacy_requests.list_requests(session(), status=status, limit=1000)
    rows = [request_record(r, now=now) for r in found]
    columns = ["id", "kind", "status", "customer_id", "received_at", "due_at", "overdue"]
    emit_records(rows, columns, as_json=as_json)


@request_group.command("show")
@click.argument("request_id", metavar="ID", type=REQUEST_ID)
@json_option
@uses_database
def request_show(request_id: uuid.UUID, as_json: bool) -> None:
    """Show one request: its record and outcome."""
    emit_record(
        request_record(privacy_requests.get(session(), request_id), now=utcnow()), as_json=as_json
    )


@request_group.command("refuse")
@click.argument("request_id", metavar="ID", type=REQUEST_ID)
@click.option("--reason", type=REASON, required=True, help="The reason the requester is told.")
@uses_database
def request_refuse(request_id: uuid.UUID, reason: str) -> None:
    """Close a request unanswered, with the reason."""
    request = privacy_requests.get(session(), request_id)
    privacy_requests.refuse(session(), request, reason=reason, actor=actor(), now=utcnow())
    click.echo(f"refused {request.id}")


@request_group.command("subject")
@click.argument("request_id", metavar="ID", type=REQUEST_ID)
@click.option("--customer", required=True, help="The data subject, by id or e-mail.")
@uses_database
def request_subject(request_id: uuid.UUID, customer: str) -> None:
    """Name the data subject of an open request (found with `licensing privacy search`)."""
    request = privacy_requests.get(session(), request_id)
    found = customers.get_customer(session(), customer)
    privacy_requests.assign_customer(session(), request, found.id, actor=actor(), now=utcnow())
    click.echo(f"request {request.id}: customer {found.id}")


@privacy.command("search")
@click.argument("query")
@click.option("--request", "request_id", type=REQUEST_ID, default=None, help="The request served.")
@json_option
@uses_database
def privacy_search(query: str, request_id: uuid.UUID | None, as_json: bool) -> None:
    """Find a data subject by e-mail, license key, key id, name, server name or IP
    address (raw, or pseudonymised by its keyed hash); audited without the query."""
    found = subject_search.search(
        session(), runtime().sealer, query, actor=actor(), now=utcnow(), request_id=request_id
    )
    rows = [
        {
            "customer_id": s.customer_id,
            "name": s.name,
            "email": s.email,
            "company": s.company,
            "tables": dict(s.tables),
        }
        for s in found.subjects
    ]
    if as_json:
        emit_json(
            {
                "readings": [m.value for m in found.readings],
                "subjects": rows,
                "truncated": found.truncated,
            }
        )
        return
    emit_records(rows, ["customer_id", "name", "email", "tables"], as_json=False)


@privacy.command("export")
@request_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip file to write (must not exist).",
)
@json_option
@uses_database
def privacy_export(request_id: uuid.UUID, out: Path, as_json: bool) -> None:
    """Access and portability: write every row about the request's customer to a zip of
    JSON and CSV with the register's purposes, recipients and retention; completes it."""
    if out.exists():
        raise click.ClickException(f"{out} exists; choose a new file")
    done = subject_export.export(
        session(), request_id, periods=runtime().settings.retention, actor=actor(), now=utcnow()
    )
    _write_private(out, done.content)
    if as_json:
        emit_json({"request_id": done.request_id, "file": str(out), "rows": dict(done.counts)})
        return
    click.echo(f"wrote {out}")
    emit_records(
        [{"table": t, "rows": n} for t, n in done.counts.items()], ["table", "rows"], as_json=False
    )


def _write_private(out: Path, content: bytes) -> None:
    """Create ``out`` readable by its owner only (it holds a person's data) and write it.

    Exclusive creation: a file appearing meanwhile is not overwritten; a failure here
    leaves the request open (nothing is committed)."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out} exists; choose a new file") from None
    except OSError as error:
        raise click.ClickException(f"cannot create {out}: {error.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _server_names(values: tuple[str, ...]) -> dict[uuid.UUID, str]:
    names: dict[uuid.UUID, str] = {}
    for value in values:
        activation, equals, name = value.partition("=")
        try:
            names[uuid.UUID(activation.strip())] = name
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: give ACTIVATION_ID=NAME", param_hint="--server-name"
            ) from None
        if not equals:
            raise click.BadParameter(
                f"{value!r}: give ACTIVATION_ID=NAME", param_hint="--server-name"
            )
    return names


@privacy.command("rectify")
@request_option
@click.option("--name", default=None, help="The corrected name.")
@click.option("--email", default=None, help="The corrected e-mail address.")
@click.option("--company", default=None, help='The corrected company ("" clears it).')
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    metavar="ACTIVATION_ID=NAME",
    help="An activation's corrected server name (repeatable).",
)
@json_option
@uses_database
def privacy_rectify(
    request_id: uuid.UUID,
    name: str | None,
    email: str | None,
    company: str | None,
    server_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Rectification: correct the customer's data and server names; prints the partners
    that received data about its licenses, to be notified (GDPR Art. 19)."""
    done = rectification.rectify(
        session(),
        request_id,
        name=name,
        email=email,
        company=company,
        server_names=_server_names(server_names),
        actor=actor(),
        now=utcnow(),
    )
    notify = [_recipient(r) for r in done.notify]
    if as_json:
        emit_json(
            {
                "request_id": done.request_id,
                "fields": list(done.customer_fields),
                "server_names": done.server_names,
                "notify": notify,
            }
        )
        return
    click.echo(
        f"rectified: {', '.join(done.customer_fields) or 'no customer field'}; "
        f"{done.server_names} server names"
    )
    click.echo("partners to notify:")
    emit_records(notify, ["partner", "kind", "fields", "last_disclosed_at"], as_json=False)


@privacy.command("restrict")
@request_option
@uses_database
def privacy_restrict(request_id: uuid.UUID) -> None:
    """Restriction or objection: restrict processing on the customer's licenses
    (verification goes on; no address or server name is stored; no misuse scan)."""
    done = processing_restriction.restrict(session(), request_id, actor=actor(), now=utcnow())
    click.echo(f"processing restricted on {done.licenses} licenses of {done.customer_id}")


@privacy.command("lift-restriction")
@request_option
@uses_database
def privacy_lift_restriction(request_id: uuid.UUID) -> None:
    """Lift a restriction of processing on the customer's licenses."""
    done = processing_restriction.lift(session(), request_id, actor=actor(), now=utcnow())
    click.echo(f"restriction lifted on {done.licenses} licenses of {done.customer_id}")
