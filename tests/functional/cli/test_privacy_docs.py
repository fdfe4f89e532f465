"""docs/privacy.md embeds exactly what ``licensing privacy register --markdown`` prints."""

from __future__ import annotations

from pathlib import Path

from licensing.privacy.categories import PERIOD_SETTINGS
from tests.functional.cli.invoke import Licensing

PAGE = Path(__file__).resolve().parents[3] / "docs" / "privacy.md"
START, END = "<!-- register:start -->", "<!-- register:end -->"


def embedded(page: str) -> str:
    """The lines between the two marker lines (each must appear once, as a whole line)."""
    lines = page.splitlines()
    assert lines.count(START) == 1 and lines.count(END) == 1
    start, end = lines.index(START), lines.index(END)
    assert start < end
    return "\n".join(lines[start + 1 : end])


def test_the_docs_carry_the_current_register(licensing: Licensing) -> None:
    printed = licensing.ok("privacy", "register", "--markdown")

    assert embedded(PAGE.read_text(encoding="utf-8")) == printed.rstrip("\n"), (
        "docs/privacy.md is out of date: regenerate it as the page says"
    )


def test_the_docs_say_what_is_not_built_yet() -> None:
    page = PAGE.read_text(encoding="utf-8")

    assert "## Not built yet" in page
    not_built = page[page.index("## Not built yet") :]
    for promise in ("anonymising", "audit events", "crypto-shredding", "legal holds", "erasure"):
        assert promise in not_built
    # Built: the retention job for usage data and disclosures is documented, not promised.
    assert "licensing privacy enforce" in page[: page.index("## Not built yet")]
    assert "privacy-enforce" in page


def test_the_docs_name_each_period_setting_with_its_default_and_range() -> None:
    page = PAGE.read_text(encoding="utf-8")

    for s in PERIOD_SETTINGS:
        assert f"| `{s.name}` | `{s.default}` | {s.minimum}–{s.maximum} |" in page, s.name
