"""Where a misuse scan spends its time: the database per statement, and Python per function.

Runs one scan in-process on the database of ``LICENSING_DATABASE_URL`` (with the instance
folder of ``LICENSING_INSTANCE_PATH``, for its master key), then rolls it back: nothing is
written unless ``--commit``. Prints the scan's summary, the wall and CPU seconds, the
statements by total time, and with ``--profile`` cProfile's top functions::

    LICENSING_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fleet \\
    LICENSING_INSTANCE_PATH=bench/fleet-instance \\
      .venv/bin/python bench/profile_misuse_scan.py --full [--chunk 1000] [--profile]

A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from licensing import create_app
from licensing.extensions import db
from licensing.runtime import EXTENSION_KEY
from licensing.services import misuse_scan
from licensing.timeutil import utcnow


class _Chunks:
    def __init__(self, commit: bool) -> None:
        self.commit = commit
        self.chunks = 0

    def started(self, plan: misuse_scan.ScanPlan) -> None:
        kind = "full" if plan.full else "incremental"
        print(f"{kind} scan of {len(plan.license_ids)} licenses")

    def chunk_done(self, outcome: misuse_scan.ChunkOutcome) -> None:
        self.chunks += 1
        if self.commit:
            db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="a full pass")
    parser.add_argument("--chunk", type=int, default=misuse_scan.CHUNK_SIZE)
    parser.add_argument("--profile", action="store_true", help="cProfile (slows Python down)")
    parser.add_argument("--commit", action="store_true", help="keep what the scan wrote")
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        settings = app.extensions[EXTENSION_KEY].settings
        statements: dict[str, float] = defaultdict(float)
        started_at: dict[int, float] = {}

        def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            started_at[id(cursor)] = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            key = " ".join(statement.split()[:10])[:100]
            statements[key] += time.perf_counter() - started_at.pop(id(cursor), 0.0)

        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        profile = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        progress = _Chunks(args.commit)
        summary = misuse_scan.run(
            db.session(),
            db.engine,
            now=utcnow(),
            thresholds=settings.misuse_thresholds,
            full_scan_every=timedelta(hours=settings.misuse_full_scan_hours),
            progress=progress,
            full=args.full,
            chunk_size=args.chunk,
        )
        if profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if args.commit:
            db.session.commit()
        else:
            db.session.rollback()
        if summary is None:
            print("another scan is running")
            return
        print(summary.to_json())
        print(f"wall {wall:.2f} s, this process's CPU {cpu:.2f} s, {progress.chunks} chunks")
        print(f"database (statements by total time, {sum(statements.values()):.2f} s):")
        for statement, seconds in sorted(statements.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {seconds:7.2f} s  {statement}")
        if profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
