"""Staff search: one box for a key, key id or hint, a customer, a server name, an IP
address or a network.

The query is personal data (it may be an address or a name): it is shown back to the
searcher and never logged (the request log names the route, not the query string).
Reading it as an IP address or a server name is for analysts and up, and audited
(services/staff_search.py); a viewer is told which readings were not run.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.models import StaffRole
from licensing.runtime import current
from licensing.services import customers, staff_search
from licensing.timeutil import utcnow

RESULTS_SHOWN = 50


@bp.route("/search")
@auth.requires(StaffRole.VIEWER)
def search() -> Any:
    query = request.args.get("q")
    if query is None:  # the page opened without a search: only the box
        return render_template("console/search/index.html", query="", result=None, problem=None)
    session = db.session()
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    try:
        result = staff_search.search(
            session, current().sealer, query, staff=staff, now=utcnow(), limit=RESULTS_SHOWN
        )
    except LicensingError as refused:
        page = render_template(
            "console/search/index.html", query=query, result=None, problem=str(refused)
        )
        return page, 400
    return render_template(
        "console/search/index.html",
        query=query,
        result=result,
        problem=None,
        names=customers.names_of(session, {hit.customer_id for hit in result.hits}),
    )
