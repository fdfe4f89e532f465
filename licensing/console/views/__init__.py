"""The console's views, one module per topic; importing them adds their routes."""

from licensing.console.views import audit, home, licenses, misuse, search, session

__all__ = ["audit", "home", "licenses", "misuse", "search", "session"]
