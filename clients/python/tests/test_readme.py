"""The README's links lead to files of this checkout."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
MENTIONED_FILE = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.md)`")


def test_relative_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if "://" not in t]
    assert "../../docs/protocol.md" in targets  # the protocol, at the repository's root
    missing = [t for t in targets if not (README.parent / t).exists()]
    assert missing == []


def test_every_file_named_is_linked_from_where_it_is() -> None:
    """A path in backquotes must be a link text whose target exists (not a bare name)."""
    text = README.read_text(encoding="utf-8")
    unlinked = [
        match.group(1)
        for match in MENTIONED_FILE.finditer(text)
        if not text[match.end() : match.end() + 2].startswith("](")
    ]
    assert unlinked == []
