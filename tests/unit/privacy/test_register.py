"""The register of processing classifies every column, and catches one that it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from licensing.config import load_settings
from licensing.errors import ConfigError
from licensing.models import Base
from licensing.privacy.categories import (
    PERIOD_SETTINGS,
    CategoryCode,
    EndAction,
    PeriodSetting,
    PeriodUnit,
    RetentionPeriods,
    categories,
    category,
)
from licensing.privacy.register import (
    COLUMNS,
    NOT_PERSONAL,
    Kind,
    UnclassifiedColumn,
    classify,
    columns_of,
    record_of_processing,
    stale,
    unclassified,
)


def test_every_column_of_the_schema_is_classified() -> None:
    assert unclassified(Base.metadata) == []


def test_the_register_names_no_column_the_schema_does_not_have() -> None:
    assert stale(Base.metadata) == []


def test_a_model_that_gains_a_column_is_caught() -> None:
    class Scratch(DeclarativeBase):
        """A registry of its own, so the real metadata is not touched."""

    class Customer(Scratch):
        __tablename__ = "customers"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(200))
        email: Mapped[str] = mapped_column(String(320))
        company: Mapped[str | None] = mapped_column(String(200))
        created_at: Mapped[int]
        anonymised_at: Mapped[int | None]
        phone: Mapped[str | None] = mapped_column(String(40))  # the new field

    assert unclassified(Scratch.metadata) == [("customers", "phone")]
    assert "customers" not in {t for t, _ in unclassified(Base.metadata)}


def test_a_new_table_is_caught_column_by_column() -> None:
    metadata = MetaData()
    Table("newsletter_signups", metadata, Column("id", Integer), Column("email", String))

    assert unclassified(metadata) == [("newsletter_signups", "email"), ("newsletter_signups", "id")]


def test_classify_refuses_a_column_it_has_no_decision_for() -> None:
    with pytest.raises(UnclassifiedColumn, match=r"customers\.phone"):
        classify("customers", "phone")
    with pytest.raises(UnclassifiedColumn):
        classify("newsletter_signups", "email")


@pytest.mark.parametrize(
    ("table", "column", "code", "kind"),
    [
        ("usage_observations", "ip", CategoryCode.RAW_USAGE, Kind.NETWORK_ADDRESS),
        ("usage_observations", "server_name", CategoryCode.RAW_USAGE, Kind.HOST_NAME),
        ("activations", "server_name", CategoryCode.RAW_USAGE, Kind.HOST_NAME),
        ("activations", "fingerprint", CategoryCode.RAW_USAGE, Kind.IDENTIFIER),
        ("usage_observations", "ip_hash", CategoryCode.PSEUDONYMISED_USAGE, Kind.KEYED_HASH),
        (
            "usage_observations",
            "server_name_hash",
            CategoryCode.PSEUDONYMISED_USAGE,
            Kind.KEYED_HASH,
        ),
        ("usage_observations", "ip_prefix", CategoryCode.PSEUDONYMISED_USAGE, Kind.NETWORK_PREFIX),
        (
            "usage_observations",
            "observation_key",
            CategoryCode.PSEUDONYMISED_USAGE,
            Kind.KEYED_HASH,
        ),
        ("customers", "name", CategoryCode.LICENSE_AND_CUSTOMER, Kind.NAME),
        ("customers", "email", CategoryCode.LICENSE_AND_CUSTOMER, Kind.CONTACT),
        ("customers", "company", CategoryCode.LICENSE_AND_CUSTOMER, Kind.ORGANISATION),
        ("licenses", "sealed_key", CategoryCode.LICENSE_AND_CUSTOMER, Kind.CREDENTIAL),
        ("licenses", "status_reason", CategoryCode.LICENSE_AND_CUSTOMER, Kind.FREE_TEXT),
        ("staff_users", "email", CategoryCode.STAFF_ACCOUNTS, Kind.CONTACT),
        ("staff_users", "display_name", CategoryCode.STAFF_ACCOUNTS, Kind.NAME),
        ("staff_users", "password_hash", CategoryCode.STAFF_ACCOUNTS, Kind.CREDENTIAL),
        # Reasons typed by staff land in the audit data (services/licenses.py, approvals.py).
        ("audit_events", "data", CategoryCode.AUDIT_EVENTS, Kind.FREE_TEXT),
        ("audit_events", "actor", CategoryCode.AUDIT_EVENTS, Kind.STAFF_REFERENCE),
        ("approval_requests", "reason", CategoryCode.AUDIT_EVENTS, Kind.FREE_TEXT),
        ("misuse_cases", "decision_reason", CategoryCode.MISUSE_EVIDENCE, Kind.FREE_TEXT),
        ("misuse_cases", "evidence", CategoryCode.MISUSE_EVIDENCE, Kind.EVIDENCE),
        ("misuse_case_events", "detail", CategoryCode.MISUSE_EVIDENCE, Kind.FREE_TEXT),
        ("misuse_exceptions", "reason", CategoryCode.MISUSE_EVIDENCE, Kind.FREE_TEXT),
        ("lease_presentations", "ip_hash", CategoryCode.MISUSE_EVIDENCE, Kind.KEYED_HASH),
        ("disclosures", "fields", CategoryCode.PARTNER_DISCLOSURES, Kind.DISCLOSURE_RECORD),
    ],
)
def test_personal_columns_are_in_their_category(
    table: str, column: str, code: CategoryCode, kind: Kind
) -> None:
    decision = classify(table, column)

    assert (decision.category, decision.kind) == (code, kind)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("usage_observations", "id"),
        ("usage_observations", "count"),
        ("licenses", "processing_restricted"),
        ("customers", "anonymised_at"),
        ("usage_days", "check_ins"),
        ("products", "code"),
        ("server_keys", "sealed_private_key"),
    ],
)
def test_keys_flags_and_counters_are_declared_not_personal(table: str, column: str) -> None:
    assert classify(table, column) == NOT_PERSONAL


def test_a_personal_column_always_says_what_it_holds() -> None:
    for table, entries in COLUMNS.items():
        for column, decision in entries.items():
            personal = decision.category is not CategoryCode.NOT_PERSONAL
            assert (decision.kind is not None) == personal, f"{table}.{column}"


def test_every_category_of_the_design_is_there_with_its_defaults() -> None:
    by_code = {c.code: c for c in categories(RetentionPeriods())}

    assert set(by_code) == set(CategoryCode)
    expected = {
        CategoryCode.LICENSE_AND_CUSTOMER: (90, PeriodUnit.DAYS, EndAction.ANONYMISE),
        CategoryCode.RAW_USAGE: (30, PeriodUnit.DAYS, EndAction.PSEUDONYMISE),
        CategoryCode.PSEUDONYMISED_USAGE: (13, PeriodUnit.MONTHS, EndAction.DELETE),
        CategoryCode.PARTNER_DISCLOSURES: (730, PeriodUnit.DAYS, EndAction.DELETE),
        CategoryCode.MISUSE_EVIDENCE: (13, PeriodUnit.MONTHS, EndAction.DELETE),
        CategoryCode.AUDIT_EVENTS: (730, PeriodUnit.DAYS, EndAction.PRUNE_BEHIND_CHECKPOINT),
        CategoryCode.STAFF_ACCOUNTS: (730, PeriodUnit.DAYS, EndAction.ANONYMISE),
    }
    for code, (period, unit, action) in expected.items():
        c = by_code[code]
        assert (c.retention.period, c.retention.unit, c.end_action) == (period, unit, action)
        assert c.purpose and c.legal_basis and c.recipients
    assert by_code[CategoryCode.MISUSE_EVIDENCE].held_until_released
    assert by_code[CategoryCode.NOT_PERSONAL].end_action is EndAction.NONE


def test_only_the_license_record_goes_to_partners() -> None:
    to_partners = {
        c.code for c in categories(RetentionPeriods()) if any("partner" in r for r in c.recipients)
    }

    assert to_partners == {CategoryCode.LICENSE_AND_CUSTOMER}


def test_every_personal_category_covers_columns() -> None:
    for c in categories(RetentionPeriods()):
        assert columns_of(c.code), c.code


def test_periods_from_settings_flow_into_the_register(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "LICENSING_RETENTION_RAW_USAGE_DAYS": "7",
            "LICENSING_RETENTION_USAGE_MONTHS": "6",
            "LICENSING_RETENTION_CONTRACT_DAYS": "365",
            "LICENSING_RETENTION_DISCLOSURE_DAYS": "100",
            "LICENSING_RETENTION_AUDIT_DAYS": "1000",
        },
        tmp_path,
    )

    periods = {
        e.category.code: e.category.retention.period
        for e in record_of_processing(settings.retention)
    }
    assert periods[CategoryCode.RAW_USAGE] == 7
    assert periods[CategoryCode.PSEUDONYMISED_USAGE] == 6
    assert periods[CategoryCode.MISUSE_EVIDENCE] == 6
    assert periods[CategoryCode.LICENSE_AND_CUSTOMER] == 365
    assert periods[CategoryCode.PARTNER_DISCLOSURES] == 100
    assert periods[CategoryCode.AUDIT_EVENTS] == 1000
    assert periods[CategoryCode.STAFF_ACCOUNTS] == 1000


def test_default_settings_give_the_design_periods(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path).retention == RetentionPeriods()


@pytest.mark.parametrize("setting", PERIOD_SETTINGS, ids=lambda s: s.name)
def test_a_period_out_of_its_range_stops_the_start_up(
    tmp_path: Path, setting: PeriodSetting
) -> None:
    name, low, high = setting.name, setting.minimum, setting.maximum

    with pytest.raises(ConfigError, match=f"{name} must be at least {low}"):
        load_settings({name: str(low - 1)}, tmp_path)
    with pytest.raises(ConfigError, match=f"{name} must be at most {high}"):
        load_settings({name: str(high + 1)}, tmp_path)
    with pytest.raises(ConfigError, match=f"{name} must be an integer"):
        load_settings({name: "a month"}, tmp_path)
    assert load_settings({name: str(high)}, tmp_path).retention != RetentionPeriods()


def test_the_contract_period_reaches_its_category() -> None:
    c = category(CategoryCode.LICENSE_AND_CUSTOMER, RetentionPeriods(contract_days=10))

    assert c.retention.period == 10
    assert c.retention.setting == "LICENSING_RETENTION_CONTRACT_DAYS"
