"""The console's views, one module per topic; importing them adds their routes."""

from licensing.console.views import (
    approvals,
    audit,
    exceptions,
    home,
    legal_holds,
    licenses,
    misuse,
    partners,
    privacy_erasure,
    privacy_requests,
    reveal,
    search,
    session,
    staff_accounts,
)

__all__ = [
    "approvals",
    "audit",
    "exceptions",
    "home",
    "legal_holds",
    "licenses",
    "misuse",
    "partners",
    "privacy_erasure",
    "privacy_requests",
    "reveal",
    "search",
    "session",
    "staff_accounts",
]
