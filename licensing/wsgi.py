"""WSGI entry point for gunicorn: ``gunicorn licensing.wsgi:app``."""

from licensing import create_app

app = create_app()
