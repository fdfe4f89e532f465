"""Throwaway PostgreSQL databases next to the one ``LICENSING_TEST_DATABASE_URL`` names."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

TEST_DATABASE_ENV = "LICENSING_TEST_DATABASE_URL"


@contextmanager
def fresh_postgresql_database(server_url: str, *, label: str = "") -> Iterator[str]:
    """Create a uniquely named database on the same server; drop it (forcibly) after."""
    admin_url = make_url(server_url)
    name = f"{admin_url.database}_{label}{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
