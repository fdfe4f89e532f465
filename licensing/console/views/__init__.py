"""The console's views, one module per topic; importing them adds their routes."""

from licensing.console.views import home, session

__all__ = ["home", "session"]
