"""How long the readiness check of the master key takes on a large database.

``python bench/readiness_sealed.py [DATABASE_URL] [--licenses N]`` seeds N licenses
(default 20,000) into a fresh database (an SQLite file in a temporary folder unless a
URL is given; that database must be empty), then times ``sealed_elsewhere`` (one EXISTS
per sealed column) and a whole ``GET /readyz``, with every value under the current key
and again with half of the licenses under another key.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import flask_migrate
from sqlalchemy import insert, select, update

from licensing import create_app
from licensing.cli.demo import demo
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.models import License
from licensing.runtime import EXTENSION_KEY
from licensing.services import master_key, server_keys
from licensing.services.licenses import TABLE


def timed(work: Callable[[], object], runs: int = 20) -> str:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return f"median {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url", nargs="?")
    parser.add_argument("--licenses", type=int, default=20_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="readiness-"))
    url = args.database_url or f"sqlite:///{folder / 'licensing.sqlite3'}"
    app = create_app(
        {
            "LICENSING_DATABASE_URL": url,
            "LICENSING_INSTANCE_PATH": str(folder),
            "LICENSING_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "LICENSING_SECRET_KEY": secrets.token_urlsafe(48),
            "LICENSING_LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        session = db.session()
        sealer: Sealer = app.extensions[EXTENSION_KEY].sealer
        server_keys.ensure_active_key(session, sealer, actor="bench")
        session.commit()
        seeded = app.test_cli_runner().invoke(demo)
        assert seeded.exit_code == 0, seeded.output
        template = session.scalars(select(License)).first()
        assert template is not None
        rows = []
        for _ in range(args.licenses):
            row_id = uuid.uuid4()
            rows.append(
                {
                    "id": row_id,
                    "key_id": secrets.token_urlsafe(16)[:22],
                    "sealed_key": sealer.seal(secrets.token_bytes(20), table=TABLE, row_id=row_id),
                    "key_hint": "BENCH",
                    "product_id": template.product_id,
                    "edition_id": template.edition_id,
                    "customer_id": template.customer_id,
                }
            )
        session.execute(insert(License), rows)
        session.commit()
        client = app.test_client()
        print(f"{args.licenses} licenses on {url.split(':', 1)[0]}")
        print(
            "all current: sealed_elsewhere",
            timed(lambda: master_key.sealed_elsewhere(session, sealer)),
        )
        print("all current: GET /readyz", timed(lambda: client.get("/readyz")))
        other = Sealer(secrets.token_bytes(32))
        for row in rows[::2]:
            session.execute(
                update(License)
                .where(License.id == row["id"])
                .values(sealed_key=other.seal(b"x" * 20, table=TABLE, row_id=row["id"]))
            )
        session.commit()
        print(
            "half elsewhere: sealed_elsewhere",
            timed(lambda: master_key.sealed_elsewhere(session, sealer)),
        )
        print("half elsewhere: GET /readyz", timed(lambda: client.get("/readyz")))
        print(client.get("/readyz").json)


if __name__ == "__main__":
    main()
