"""Legal holds override the retention of usage: held rows stay, unheld rows of the same
age change, and a released hold lets the next run change them. And a step ends only
when a batch finds nothing left to do."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Disclosure, HoldScope, LegalHold, UsageObservation
from licensing.services import retention
from licensing.services.retention import Step
from tests.factories import make_activation, make_license, make_partner
from tests.unit.services.test_retention import AS_OF, PERIODS, _observation

PSEUDONYMISE_DAY = date(2026, 5, 1)  # 31 days before AS_OF: raw no longer
DELETE_DAY = date(2025, 1, 1)  # past 13 months


def _seed(session: Session, sealer: Sealer) -> dict[str, dict[str, list[int]]]:
    seeded: dict[str, dict[str, list[int]]] = {}
    partner = make_partner(session)
    for name in ("held", "free"):
        license_id = make_license(session, sealer).license.id
        activation = make_activation(session, license_id, silent_for=timedelta(days=40), now=AS_OF)
        disclosure = Disclosure(
            partner_id=partner.id,
            license_id=license_id,
            partner_key_id="pk_test",
            fields=["status"],
            purpose="verification",
            request_id=uuid.uuid4().hex,
            disclosed_at=AS_OF - timedelta(days=800),
        )
        session.add(disclosure)
        session.flush()
        seeded[name] = {
            "pseudonymise": [_observation(session, activation, PSEUDONYMISE_DAY, raw=True).id],
            "delete": [_observation(session, activation, DELETE_DAY, raw=True).id],
            "disclosure": [disclosure.id],
        }
        seeded[name]["license_id"] = [license_id.int]
    hold = LegalHold(
        scope=HoldScope.LICENSE.value,
        license_id=uuid.UUID(int=seeded["held"]["license_id"][0]),
        matter="matter",
        reason="a claim",
        review_on=date(2026, 9, 1),
        placed_by="test:pytest",
    )
    session.add(hold)
    session.commit()
    return seeded


def _enforce(session: Session, **options: object) -> retention.RetentionReport:
    return retention.enforce(
        session,
        periods=PERIODS,
        as_of=AS_OF,
        dry_run=bool(options.pop("dry_run", False)),
        **options,  # type: ignore[arg-type]
    )


def _observation_row(session: Session, row_id: int) -> UsageObservation | None:
    session.expire_all()
    return session.get(UsageObservation, row_id)


USAGE_STEPS = (
    Step.USAGE_PSEUDONYMISED,
    Step.ACTIVATION_SERVER_NAMES_CLEARED,
    Step.USAGE_DELETED,
    Step.DISCLOSURES_DELETED,
)


def test_held_usage_is_untouched_while_unheld_usage_of_the_same_age_changes(
    session: Session, sealer: Sealer
) -> None:
    seeded = _seed(session, sealer)

    report = _enforce(session)

    assert {s: report.counts[s] for s in USAGE_STEPS} == dict.fromkeys(USAGE_STEPS, 1)
    assert {s: report.kept_by_hold[s] for s in USAGE_STEPS} == dict.fromkeys(USAGE_STEPS, 1)
    held, free = seeded["held"], seeded["free"]
    kept = _observation_row(session, held["pseudonymise"][0])
    assert kept is not None and kept.ip is not None and kept.server_name is not None
    assert _observation_row(session, held["delete"][0]) is not None
    changed = _observation_row(session, free["pseudonymise"][0])
    assert changed is not None and changed.ip is None
    assert _observation_row(session, free["delete"][0]) is None
    disclosures = set(session.scalars(select(Disclosure.id)))
    assert held["disclosure"][0] in disclosures and free["disclosure"][0] not in disclosures
    assert report.to_json()["kept_by_hold"]["usage_deleted"] == 1


def test_a_released_hold_lets_the_next_run_change_the_data(
    session: Session, sealer: Sealer
) -> None:
    seeded = _seed(session, sealer)
    _enforce(session)
    assert _enforce(session, dry_run=True).counts[Step.USAGE_DELETED] == 0
    session.execute(update(LegalHold).values(released_at=AS_OF - timedelta(days=1)))
    session.commit()

    report = _enforce(session)

    assert {s: report.counts[s] for s in USAGE_STEPS} == dict.fromkeys(USAGE_STEPS, 1)
    assert all(report.kept_by_hold[s] == 0 for s in USAGE_STEPS)
    assert _observation_row(session, seeded["held"]["delete"][0]) is None
    row = _observation_row(session, seeded["held"]["pseudonymise"][0])
    assert row is not None and row.ip is None


def test_a_step_goes_on_until_a_batch_finds_nothing_due(session: Session, sealer: Sealer) -> None:
    # A statement that changes only one row of each batch, as when the re-check drops the
    # rows a check-in changed meanwhile: the step must not stop at the first short batch.
    license_id = make_license(session, sealer).license.id
    activation = make_activation(session, license_id, silent_for=timedelta(days=1), now=AS_OF)
    ids = [_observation(session, activation, PSEUDONYMISE_DAY, raw=True).id for _ in range(7)]
    session.commit()
    o = UsageObservation
    work = retention._Work(
        Step.USAGE_PSEUDONYMISED,
        o.id,
        o.ip.is_not(None),
        lambda keys: update(o).where(o.id.in_(keys[:1])).values(ip=None),
    )

    changed = retention._run_in_batches(session, work, 3, None, AS_OF)

    assert changed == len(ids)
    session.expire_all()
    assert all(session.get(o, i).ip is None for i in ids)  # type: ignore[union-attr]
