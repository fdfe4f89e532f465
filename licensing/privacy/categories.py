"""The categories of the register of processing: why each kind of data is kept, and how long.

One place names the purpose, legal basis, recipients, retention and end-of-life action of
each category (DESIGN.md "Data protection"); the printed record of processing and the
jobs that enforce retention read it from here, so what is promised and what is done
cannot drift apart. Periods come from settings (``RetentionPeriods``): this module reads
no configuration itself, so it stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CategoryCode(StrEnum):
    LICENSE_AND_CUSTOMER = "license_and_customer"
    RAW_USAGE = "raw_usage"
    PSEUDONYMISED_USAGE = "pseudonymised_usage"
    PARTNER_DISCLOSURES = "partner_disclosures"
    MISUSE_EVIDENCE = "misuse_evidence"
    AUDIT_EVENTS = "audit_events"
    STAFF_ACCOUNTS = "staff_accounts"
    NOT_PERSONAL = "not_personal"


class EndAction(StrEnum):
    """What happens to a category's data when its retention ends."""

    PSEUDONYMISE = "pseudonymise"
    DELETE = "delete"
    ANONYMISE = "anonymise"
    # Audit events go only behind a signed checkpoint of the chain, so it stays verifiable.
    PRUNE_BEHIND_CHECKPOINT = "prune_behind_checkpoint"
    NONE = "none"


class PeriodUnit(StrEnum):
    DAYS = "days"
    MONTHS = "months"


# The periods' bounds. Minimums keep what the product itself needs (misuse rules look back
# up to 400 days over pseudonymised usage, a contract is disputed within weeks of its end);
# maximums keep a typo from turning "delete" into "keep forever".
@dataclass(frozen=True, slots=True)
class PeriodSetting:
    name: str
    field: str  # the RetentionPeriods attribute it sets
    default: int
    unit: PeriodUnit
    minimum: int
    maximum: int


RAW_USAGE_DAYS = PeriodSetting(
    "LICENSING_RETENTION_RAW_USAGE_DAYS", "raw_usage_days", 30, PeriodUnit.DAYS, 1, 90
)
USAGE_MONTHS = PeriodSetting(
    "LICENSING_RETENTION_USAGE_MONTHS", "usage_months", 13, PeriodUnit.MONTHS, 1, 36
)
CONTRACT_DAYS = PeriodSetting(
    "LICENSING_RETENTION_CONTRACT_DAYS", "contract_days", 90, PeriodUnit.DAYS, 0, 3650
)
DISCLOSURE_DAYS = PeriodSetting(
    "LICENSING_RETENTION_DISCLOSURE_DAYS", "disclosure_days", 730, PeriodUnit.DAYS, 30, 3650
)
AUDIT_DAYS = PeriodSetting(
    "LICENSING_RETENTION_AUDIT_DAYS", "audit_days", 730, PeriodUnit.DAYS, 30, 3650
)
PERIOD_SETTINGS: tuple[PeriodSetting, ...] = (
    RAW_USAGE_DAYS,
    USAGE_MONTHS,
    CONTRACT_DAYS,
    DISCLOSURE_DAYS,
    AUDIT_DAYS,
)


@dataclass(frozen=True, slots=True)
class RetentionPeriods:
    """The configured periods (``LICENSING_RETENTION_*``), DESIGN.md's by default."""

    raw_usage_days: int = RAW_USAGE_DAYS.default
    usage_months: int = USAGE_MONTHS.default
    contract_days: int = CONTRACT_DAYS.default
    disclosure_days: int = DISCLOSURE_DAYS.default
    audit_days: int = AUDIT_DAYS.default


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a category is kept: ``period`` ``unit`` after ``starts`` (None: no period)."""

    period: int | None
    unit: PeriodUnit | None
    starts: str
    setting: str | None

    def describe(self) -> str:
        if self.period is None or self.unit is None:
            return self.starts
        return f"{self.period} {self.unit.value} after {self.starts}"


@dataclass(frozen=True, slots=True)
class Category:
    code: CategoryCode
    title: str
    purpose: str
    legal_basis: str
    recipients: tuple[str, ...]
    retention: Retention
    end_action: EndAction
    # A legal hold (issue 14, item 4) keeps the data past its period until it is released.
    held_until_released: bool

    @property
    def is_personal(self) -> bool:
        return self.code is not CategoryCode.NOT_PERSONAL


INTERNAL_STAFF = "internal staff (console roles; operators of the `licensing` command)"
PARTNERS_FOR_VERIFICATION = (
    "registered partners, for license verification and upgrade eligibility only "
    "(a license's status and dates, never a name, e-mail, address or server name)"
)


def _retention(period: int, setting: PeriodSetting, starts: str) -> Retention:
    return Retention(period=period, unit=setting.unit, starts=starts, setting=setting.name)


def categories(periods: RetentionPeriods) -> tuple[Category, ...]:
    """Every category of the register, in the order of the record of processing."""
    return (
        Category(
            code=CategoryCode.LICENSE_AND_CUSTOMER,
            title="license and customer record",
            purpose="performing the licensing contract: issuing, verifying and renewing licenses",
            legal_basis="contract (GDPR Art. 6(1)(b)); legal obligation (Art. 6(1)(c))",
            recipients=(INTERNAL_STAFF, PARTNERS_FOR_VERIFICATION),
            retention=_retention(
                periods.contract_days, CONTRACT_DAYS, "the license ends (expiry or revocation)"
            ),
            end_action=EndAction.ANONYMISE,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.RAW_USAGE,
            title="raw usage (IP address, server name)",
            purpose="license verification and protecting the vendor's intellectual property",
            legal_basis="legitimate interests (GDPR Art. 6(1)(f))",
            recipients=(INTERNAL_STAFF,),
            retention=_retention(
                periods.raw_usage_days, RAW_USAGE_DAYS, "the check-in that recorded it"
            ),
            end_action=EndAction.PSEUDONYMISE,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.PSEUDONYMISED_USAGE,
            title="pseudonymised usage",
            purpose="misuse trends over the license's history",
            legal_basis="legitimate interests (GDPR Art. 6(1)(f))",
            recipients=(INTERNAL_STAFF,),
            retention=_retention(periods.usage_months, USAGE_MONTHS, "the day it was observed"),
            end_action=EndAction.DELETE,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.PARTNER_DISCLOSURES,
            title="partner disclosures",
            purpose="accountability: which partner was told what, to notify recipients",
            legal_basis="legal obligation (GDPR Art. 5(2), 19)",
            recipients=(INTERNAL_STAFF,),
            retention=_retention(periods.disclosure_days, DISCLOSURE_DAYS, "the disclosure"),
            end_action=EndAction.DELETE,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.MISUSE_EVIDENCE,
            title="misuse evidence (kept under a legal hold until it is released)",
            purpose="detecting license misuse; establishing and defending legal claims",
            legal_basis="legitimate interests (GDPR Art. 6(1)(f)); legal claims (Art. 17(3)(e))",
            recipients=(INTERNAL_STAFF,),
            retention=_retention(
                periods.usage_months, USAGE_MONTHS, "the last evidence or decision"
            ),
            end_action=EndAction.DELETE,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.AUDIT_EVENTS,
            title="audit events, four-eyes approvals, legal holds and privacy requests",
            purpose=(
                "security and accountability: who did what, provably (hash-chained), and "
                "how each data-subject request was answered"
            ),
            legal_basis="legitimate interests (GDPR Art. 6(1)(f)); security (Art. 32)",
            recipients=(INTERNAL_STAFF,),
            retention=_retention(periods.audit_days, AUDIT_DAYS, "the event"),
            end_action=EndAction.PRUNE_BEHIND_CHECKPOINT,
            held_until_released=True,
        ),
        Category(
            code=CategoryCode.STAFF_ACCOUNTS,
            title="staff accounts",
            purpose="signing staff in to the console and naming them in the audit log",
            legal_basis="contract of employment (GDPR Art. 6(1)(b)); security (Art. 32)",
            recipients=(INTERNAL_STAFF,),
            # The audit log names staff by account id: the account outlives its last event.
            retention=_retention(periods.audit_days, AUDIT_DAYS, "the account is disabled"),
            end_action=EndAction.ANONYMISE,
            held_until_released=False,
        ),
        Category(
            code=CategoryCode.NOT_PERSONAL,
            title="not personal data",
            purpose="keys, flags, counters, catalog and server configuration",
            legal_basis="none needed (no personal data)",
            recipients=(INTERNAL_STAFF,),
            retention=Retention(
                period=None, unit=None, starts="as long as the row it belongs to", setting=None
            ),
            end_action=EndAction.NONE,
            held_until_released=False,
        ),
    )


def category(code: CategoryCode, periods: RetentionPeriods) -> Category:
    return next(c for c in categories(periods) if c.code is code)
