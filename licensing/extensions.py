"""Extension singletons; ``create_app`` binds them to an application."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from licensing.models import Base

# Models derive from our own typed ``Base``; Flask-SQLAlchemy only manages engine and session.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate(compare_type=True, render_as_batch=True)
