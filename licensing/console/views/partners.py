"""Partners: the list, one partner's page, and the admin's actions on them.

Every change goes through ``services/partners.py`` (which audits it) on the partner's row
locked for the request. A new API key's secret exists only in the one response that
shows it: it is rendered there, never flashed or kept in the session.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import (
    PartnerActionForm,
    PartnerForm,
    PartnerKeyForm,
    PartnerProductForm,
    SignOutForm,
)
from licensing.console.lookup import attempt, first_error
from licensing.console.paging import page_number
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.models import Partner, PartnerStatus, StaffRole
from licensing.runtime import current
from licensing.services import catalog, console_partners, disclosures, partners
from licensing.timeutil import utcnow

PAGE_SIZE = 50
RECENT_DAYS = 30
_SEPARATORS = re.compile(r"[\s,]+")


def _may_admin() -> bool:
    staff = auth.current_staff()
    return staff is not None and StaffRole(staff.role).includes(StaffRole.ADMIN)


def _actor() -> str:
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    return f"staff:{staff.id}"


def _words(text: str | None) -> list[str]:
    return [word for word in _SEPARATORS.split(text or "") if word]


def _refusal(form: FlaskForm) -> str:
    """The form's first problem, named by its field: "Not done: Name: This field is required."""
    problem = first_error(form)
    if problem is None:
        return "Not done: the form was not complete."
    label, message = problem
    return f"Not done: {label}: {message}"


def _partner(partner_id: uuid.UUID, *, for_update: bool = False) -> Partner:
    try:
        return partners.get_partner(db.session(), partner_id, for_update=for_update)
    except LicensingError:
        abort(404)


def _to_page(partner_id: uuid.UUID) -> Response:
    return redirect(url_for("console.partner_page", partner_id=partner_id), code=303)


@bp.route("/partners")
@auth.requires(StaffRole.VIEWER)
def partner_list() -> Any:
    return render_template(
        "console/partners/index.html",
        summaries=console_partners.summaries(db.session(), now=utcnow(), days=RECENT_DAYS),
        days=RECENT_DAYS,
        may_admin=_may_admin(),
        form=PartnerForm(),
        sign_out=SignOutForm(),
    )


@bp.route("/partners/<uuid:partner_id>")
@auth.requires(StaffRole.VIEWER)
def partner_page(partner_id: uuid.UUID) -> Any:
    session, page = db.session(), page_number()
    partner = _partner(partner_id)
    registered = set(console_partners.product_codes(partner))
    # One more than a page tells whether there is an older one without counting.
    told = disclosures.list_disclosures(
        session, partner_id=partner.id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "console/partners/partner.html",
        partner=partner,
        products=sorted(partner.products, key=lambda link: link.product.code),
        other_products=[p for p in catalog.list_products(session) if p.code not in registered],
        keys=partners.list_keys(session, partner),
        key_state=partners.key_state,
        now=utcnow(),
        default_rate_limit=current().settings.partner_rate_limit,
        disclosures=told[:PAGE_SIZE],
        page=page,
        page_size=PAGE_SIZE,
        has_next=len(told) > PAGE_SIZE,
        may_admin=_may_admin(),
        action=PartnerActionForm(),
        product_form=PartnerProductForm(),
        key_form=PartnerKeyForm(),
        sign_out=SignOutForm(),
    )


@bp.route("/partners", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_register() -> Response:
    form = PartnerForm()
    if not form.validate_on_submit():
        flash(_refusal(form))
        return redirect(url_for("console.partner_list"), code=303)
    session, actor = db.session(), _actor()
    try:
        added = partners.add_partner(
            session,
            name=form.name.data,
            kind=form.kind.data,
            allowed_networks=_words(form.networks.data),
            rate_limit=form.rate_limit.data,
            actor=actor,
        )
        for code in _words(form.products.data):
            partners.add_product(session, added, code, actor=actor)
    except LicensingError as refused:
        session.rollback()  # a partner without the products asked for is not registered
        flash(f"Not done: {refused}.")
        return redirect(url_for("console.partner_list"), code=303)
    flash(f"Partner {added.name!r} registered.")
    return _to_page(added.id)


def _act(
    partner_id: uuid.UUID, form: FlaskForm, action: Callable[[Partner, str], object], done: str
) -> Response:
    """Run one action on the locked partner; flash what came of it."""
    if not form.validate_on_submit():
        flash(_refusal(form))
        return _to_page(partner_id)
    partner = _partner(partner_id, for_update=True)
    attempt(lambda: action(partner, _actor()), done=done)
    return _to_page(partner_id)


@bp.route("/partners/<uuid:partner_id>/suspend", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_suspend(partner_id: uuid.UUID) -> Response:
    return _act(
        partner_id,
        PartnerActionForm(),
        lambda p, who: partners.set_status(db.session(), p, PartnerStatus.SUSPENDED, actor=who),
        "Partner suspended: its keys are refused until it is reinstated.",
    )


@bp.route("/partners/<uuid:partner_id>/reinstate", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_reinstate(partner_id: uuid.UUID) -> Response:
    return _act(
        partner_id,
        PartnerActionForm(),
        lambda p, who: partners.set_status(db.session(), p, PartnerStatus.ACTIVE, actor=who),
        "Partner reinstated.",
    )


@bp.route("/partners/<uuid:partner_id>/products", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_product_add(partner_id: uuid.UUID) -> Response:
    form = PartnerProductForm()
    code = (form.product.data or "").strip()
    return _act(
        partner_id,
        form,
        lambda p, who: partners.add_product(db.session(), p, code, actor=who),
        f"Registered for {code!r}.",
    )


@bp.route("/partners/<uuid:partner_id>/products/remove", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_product_remove(partner_id: uuid.UUID) -> Response:
    form = PartnerProductForm()
    code = (form.product.data or "").strip()
    return _act(
        partner_id,
        form,
        lambda p, who: partners.remove_product(db.session(), p, code, actor=who),
        f"No longer registered for {code!r}.",
    )


@bp.route("/partners/<uuid:partner_id>/keys/<key_id>/revoke", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_key_revoke(partner_id: uuid.UUID, key_id: str) -> Response:
    return _act(
        partner_id,
        PartnerActionForm(),
        lambda p, who: partners.revoke_key(db.session(), key_id, partner=p, actor=who),
        f"Key {key_id} revoked: it is refused from now on.",
    )


def _midnight(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


@bp.route("/partners/<uuid:partner_id>/keys", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def partner_key_create(partner_id: uuid.UUID) -> Response:
    form = PartnerKeyForm()
    if not form.validate_on_submit():
        flash(_refusal(form))
        return _to_page(partner_id)
    partner = _partner(partner_id, for_update=True)
    try:
        issued = partners.create_key(
            db.session(),
            current().sealer,
            partner,
            scopes=form.scopes.data,
            expires_at=_midnight(form.expires.data),
            label=form.label.data,
            actor=_actor(),
        )
    except LicensingError as refused:
        db.session.rollback()
        flash(f"Not done: {refused}.")
        return _to_page(partner_id)
    # The one response that carries the secret: shown here, kept by no cache.
    response = make_response(
        render_template(
            "console/partners/key_created.html",
            partner=partner,
            key=issued.key,
            token=issued.token,
            sign_out=SignOutForm(),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
