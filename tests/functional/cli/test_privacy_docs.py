"""docs/privacy.md embeds exactly what ``licensing privacy register --markdown`` prints."""

from __future__ import annotations

from pathlib import Path

import click

from licensing.cli.privacy import privacy
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


def _commands(group: click.Group, prefix: str) -> list[str]:
    """Every leaf command under ``group``, as typed (``licensing privacy hold place``)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


def test_the_docs_show_every_privacy_command() -> None:
    page = PAGE.read_text(encoding="utf-8")
    commands = _commands(privacy, "licensing privacy")

    assert "licensing privacy hold place" in commands  # the walk reaches the subgroups
    missing = [c for c in commands if c not in page]
    assert missing == [], f"docs/privacy.md does not show: {missing}"
    assert "privacy-enforce" in page  # the job that runs retention daily
    assert "## Not built yet" not in page


def test_the_docs_name_each_period_setting_with_its_default_and_range() -> None:
    page = PAGE.read_text(encoding="utf-8")

    for s in PERIOD_SETTINGS:
        assert f"| `{s.name}` | `{s.default}` | {s.minimum}–{s.maximum} |" in page, s.name
