"""Server-side render time of the staff console's pages on the synthetic fleet.

Run from the checkout on a fleet made by ``bench/fleet.py`` (see bench/README.md,
"Console page render (issue 13)")::

    .venv/bin/python bench/console_pages.py [--manifest bench/fleet-manifest.json]
        [--runs 20] [--page dashboard --page audit ...]

An application is built for the manifest's database and instance folder (its master
key), an admin account made or reused (``bench-console@bench.invalid``; a fresh random
password each run, set through the staff service, so one audit event per run), and the
Flask test client signs in with it. Then each page is fetched twice to warm up and
``--runs`` times measured: the time of the whole request in the process (routing, the
role check, the queries, the template, the commit), with no network. Printed per page:
p50, p95 and max in milliseconds, and the SQL statements one request issued.

The pages: the dashboard, the misuse queue (all, and filtered by a rule), a case of a
planted license (when the fleet has cases: ``licensing misuse scan`` makes them; this
script does not), the audit log, and, when the app's URL map has them, search (by a
key id, an IP and a network of a planted license), a planted license's page and the
partners list. Any other console page that takes no path argument is measured too, so
pages added later are not left out. What a page is fetched with (key ids, addresses)
is never printed. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from licensing import create_app
from licensing.extensions import db
from licensing.misuse.findings import Rule
from licensing.models import License, StaffRole, UsageObservation
from licensing.models.misuse import MisuseCase
from licensing.services import staff as accounts

BENCH = Path(__file__).resolve().parent
STAFF_EMAIL = "bench-console@bench.invalid"
ACTOR = "bench:console_pages"
WARM_UPS = 2
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Console pages with a path argument, found in the URL map by their rule (their
# endpoints are named by the views that add them).
SEARCH_RULE = "/staff/search"
LICENSE_RULE = re.compile(r"^/staff/licenses/<[^>]+>$")
PARTNERS_RULE = "/staff/partners"


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    p50: float
    p95: float
    max: float
    statements: int
    status: int


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=BENCH / "fleet-manifest.json")
    parser.add_argument("--runs", type=int, default=20, help="measured requests per page (20)")
    parser.add_argument(
        "--page",
        action="append",
        default=[],
        help="measure only the pages whose name contains this (repeatable)",
    )
    return parser.parse_args(argv)


def build_app(manifest: dict[str, Any]) -> Flask:
    app = create_app(
        {
            "LICENSING_DATABASE_URL": manifest["database"],
            "LICENSING_INSTANCE_PATH": manifest["instance_path"],
            # The test client speaks plain HTTP: a Secure cookie would not come back.
            "LICENSING_CONSOLE_SECURE_COOKIE": "false",
            "LICENSING_LOG_JSON": "false",
        }
    )
    # One access-log line per request would be most of what is printed.
    logging.getLogger("licensing").setLevel(logging.WARNING)
    return app


def admin_password(app: Flask) -> str:
    """The bench's admin account, made once and reused; a new password each run."""
    password = secrets.token_urlsafe(24)
    with app.app_context():
        session = db.session()
        staff = accounts.staff_by_email(session, STAFF_EMAIL)
        if staff is None:
            accounts.add_staff(
                session,
                email=STAFF_EMAIL,
                display_name="Console bench",
                role=StaffRole.ADMIN.value,
                password=password,
                actor=ACTOR,
            )
        else:
            if staff.is_disabled:
                sys.exit(f"the bench account {staff.id} is disabled: enable or remove it first")
            accounts.set_role(session, staff, StaffRole.ADMIN.value, actor=ACTOR)
            accounts.reset_password(session, staff, password, actor=ACTOR)
        session.commit()
    return password


def sign_in(client: FlaskClient, password: str) -> None:
    page = client.get("/staff/login")
    found = _TOKEN.search(page.get_data(as_text=True))
    if not found:
        sys.exit(f"no sign-in form at /staff/login ({page.status_code})")
    answer = client.post(
        "/staff/login",
        data={"email": STAFF_EMAIL, "password": password, "csrf_token": found.group(1)},
    )
    if answer.status_code != 303 or answer.headers.get("Location", "").endswith("/login"):
        sys.exit(f"signing in failed ({answer.status_code})")


def planted_licenses(manifest: dict[str, Any]) -> list[uuid.UUID]:
    return [uuid.UUID(i) for ids in manifest.get("planted", {}).values() for i in ids]


def pages(app: Flask, manifest: dict[str, Any], notes: list[str]) -> list[Page]:
    """The pages to measure, from the URL map and the fleet's rows."""
    rules = {rule.rule: rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    planted = planted_licenses(manifest)
    found: list[Page] = [Page("dashboard", "/staff/"), Page("misuse queue", "/staff/misuse")]
    with app.app_context():
        session = db.session()
        case = session.execute(
            select(MisuseCase.id, MisuseCase.rule)
            .where(MisuseCase.license_id.in_(planted))
            .order_by(MisuseCase.last_seen.desc())
            .limit(1)
        ).first()
        if case is None:
            case = session.execute(select(MisuseCase.id, MisuseCase.rule).limit(1)).first()
        if case is not None:
            found.append(Page(f"misuse queue, rule {case.rule}", f"/staff/misuse?rule={case.rule}"))
            found.append(Page("case page", f"/staff/misuse/{case.id}"))
        else:
            rule = Rule.SERVER_SPREAD.value  # a filter that matches nothing is measured too
            found.append(Page(f"misuse queue, rule {rule}", f"/staff/misuse?rule={rule}"))
            notes.append("case page skipped: the fleet has no misuse cases (run the scan first)")
        found.append(Page("audit log", "/staff/audit"))
        license_id = planted[0] if planted else session.scalar(select(License.id).limit(1))
        if SEARCH_RULE in rules and license_id is not None:
            found.extend(_searches(session, license_id, notes))
        elif SEARCH_RULE not in rules:
            notes.append("search skipped: no /staff/search in this app")
        license_rule = next((r for r in rules if LICENSE_RULE.match(r)), None)
        if license_rule and license_id is not None:
            found.append(Page("license page", f"/staff/licenses/{license_id}"))
        elif license_rule is None:
            notes.append("license page skipped: no /staff/licenses/<id> in this app")
    if PARTNERS_RULE in rules:
        found.append(Page("partners", PARTNERS_RULE))
    else:
        notes.append("partners skipped: no /staff/partners in this app")
    known = {page.url.split("?")[0] for page in found} | {"/staff/login", "/staff/"}
    for rule in sorted(rules.values(), key=lambda r: r.rule):
        if rule.endpoint.startswith("console.") and not rule.arguments and rule.rule not in known:
            found.append(Page(rule.rule.removeprefix("/staff/") or rule.rule, rule.rule))
    return found


def _searches(session: Any, license_id: uuid.UUID, notes: list[str]) -> list[Page]:
    key_id = session.scalar(select(License.key_id).where(License.id == license_id))
    seen = session.execute(
        select(UsageObservation.ip, UsageObservation.ip_prefix)
        .where(UsageObservation.license_id == license_id, UsageObservation.ip.is_not(None))
        .limit(1)
    ).first()
    found = [Page("search, key id", _search_url(key_id))]
    if seen is None:
        notes.append("search by IP and network skipped: the license has no stored address")
        return found
    found.append(Page("search, IP", _search_url(seen.ip)))
    if seen.ip_prefix:
        found.append(Page("search, network", _search_url(seen.ip_prefix)))
    return found


def _search_url(query: str) -> str:
    return f"{SEARCH_RULE}?{urlencode({'q': query})}"


@contextmanager
def counting_statements(app: Flask) -> Iterator[Callable[[], int]]:
    """The number of SQL statements sent since the last read of the counter."""
    count = [0]

    def counted(*_: Any) -> None:
        count[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counted)

    def read() -> int:
        value, count[0] = count[0], 0
        return value

    try:
        yield read
    finally:
        event.remove(engine, "before_cursor_execute", counted)


def measure(client: FlaskClient, page: Page, runs: int, statements: Callable[[], int]) -> Figures:
    status = 0
    for _ in range(WARM_UPS):
        status = client.get(page.url).status_code
    times, counts = [], []
    for _ in range(runs):
        statements()
        started = time.perf_counter()
        response = client.get(page.url)
        times.append((time.perf_counter() - started) * 1000)
        counts.append(statements())
        status = response.status_code
    return Figures(
        page.name,
        p50=statistics.median(times),
        p95=_percentile(times, 95),
        max=max(times),
        statements=max(counts),
        status=status,
    )


def _percentile(values: Sequence[float], percent: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.runs < 1:
        sys.exit("--runs must be 1 or more")
    manifest = json.loads(args.manifest.read_text())
    app = build_app(manifest)
    password = admin_password(app)
    client = app.test_client()
    sign_in(client, password)
    notes: list[str] = []
    chosen = [
        page
        for page in pages(app, manifest, notes)
        if not args.page or any(part in page.name for part in args.page)
    ]
    print(f"fleet: {manifest['database'].rsplit('/', 1)[-1]}, scale {manifest.get('scale')}")
    print(f"{WARM_UPS} warm-ups, then {args.runs} runs per page; times in ms")
    print(f"{'page':<34} {'p50':>8} {'p95':>8} {'max':>8} {'SQL':>5}  status")
    answered: list[Figures] = []
    with counting_statements(app) as statements:
        for page in chosen:
            figures = measure(client, page, args.runs, statements)
            answered.append(figures)
            print(
                f"{figures.name:<34} {figures.p50:>8.1f} {figures.p95:>8.1f} "
                f"{figures.max:>8.1f} {figures.statements:>5}  {figures.status}"
            )
    for note in notes:
        print(f"note: {note}")
    # A page that did not answer 200 was not measured as a page: say so in the status.
    return 0 if all(figures.status == 200 for figures in answered) else 1


if __name__ == "__main__":
    sys.exit(main())
