"""``licensing misuse stats``: per rule, how its cases were decided."""

from __future__ import annotations

from typing import Any

from licensing.cli.context import session, uses_database
from licensing.cli.misuse.group import misuse
from licensing.cli.output import emit_records, json_option
from licensing.services.misuse_case_queries import RuleStats, rule_stats


def _row(stats: RuleStats, *, as_json: bool) -> dict[str, Any]:
    rate = stats.false_positive_rate
    shown: float | str | None
    if as_json:
        shown = None if rate is None else round(rate, 4)
    else:
        shown = "n/a" if rate is None else f"{rate:.0%}"
    return {
        "rule": stats.rule.value,
        "opened": stats.opened,
        "reopened": stats.reopened,
        "open": stats.open,
        "confirmed": stats.confirmed,
        "dismissed": stats.dismissed,
        "false_positive_rate": shown,
    }


@misuse.command("stats")
@json_option
@uses_database
def misuse_stats(as_json: bool) -> None:
    """Per rule: cases opened, reopened, open, confirmed, dismissed, and the measured
    false-positive rate, dismissed / (confirmed + dismissed) ("n/a", in JSON null, until
    a case of the rule has been decided)."""
    rows = [_row(s, as_json=as_json) for s in rule_stats(session())]
    emit_records(
        rows,
        ["rule", "opened", "reopened", "open", "confirmed", "dismissed", "false_positive_rate"],
        as_json=as_json,
    )
