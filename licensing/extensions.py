"""Extension singletons; ``create_app`` binds them to an application."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from licensing.models import Base

# Models derive from our own typed ``Base``; Flask-SQLAlchemy only manages engine and session.
db = SQLAlchemy(metadata=Base.metadata)


class Migrations:
    """Flask-Migrate, bound to an application only when a migration runs.

    Importing Flask-Migrate imports Alembic, a fifth of a CLI command's start-up; most
    commands never migrate. Until first used, ``app.extensions["migrate"]`` holds a
    stand-in that binds the real extension (which replaces it) on first attribute access.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options

    def init_app(self, app: Flask, database: SQLAlchemy, *, directory: str) -> None:
        app.extensions["migrate"] = _Unbound(self, app, database, directory)

    def bind(self, app: Flask, database: SQLAlchemy, directory: str) -> Any:
        from flask_migrate import Migrate

        Migrate(**self.options).init_app(app, database, directory=directory)
        return app.extensions["migrate"]


class _Unbound:
    def __init__(
        self, migrations: Migrations, app: Flask, database: SQLAlchemy, directory: str
    ) -> None:
        self._bound = (migrations, app, database, directory)

    def __getattr__(self, name: str) -> Any:
        migrations, app, database, directory = self._bound
        return getattr(migrations.bind(app, database, directory), name)


migrate = Migrations(compare_type=True, render_as_batch=True)
