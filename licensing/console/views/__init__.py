"""The console's views, one module per topic; importing them adds their routes."""

from licensing.console.views import audit, home, misuse, partners, session

__all__ = ["audit", "home", "misuse", "partners", "session"]
