"""Page numbers and cursors read from a query string, within what the database can hold."""

from __future__ import annotations

from flask import request

# Far beyond any real list, and far below what an offset or a bigint overflows at: a
# hand-edited ``?page=99999999999999999999`` is the last page, not a database error.
LAST_PAGE = 1_000_000
LARGEST_SEQ = 2**62


def page_number(name: str = "page") -> int:
    """The 1-based page asked for; anything unreadable is the first page."""
    try:
        return min(max(1, int(request.args.get(name, "1"))), LAST_PAGE)
    except ValueError:
        return 1


def cursor(name: str) -> int | None:
    """A seq to page back from (``?before=SEQ``), or None when absent or unreadable."""
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return min(max(0, value), LARGEST_SEQ)
