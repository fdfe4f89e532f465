"""The console's views, one module per topic; importing them adds their routes."""

from licensing.console.views import home, misuse, session

__all__ = ["home", "misuse", "session"]
