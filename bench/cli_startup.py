"""How long the ``licensing`` command takes to start: ``--help`` and a read command.

Not a test: it prints figures. Each command runs in a fresh process, several times, on
the embedded SQLite database of a new temporary instance folder (migrated by one run
before timing starts); the figures are the medians of the runs' wall-clock time and of
their CPU time (user + system: on a busy machine, wall-clock time also counts waiting
for a core).

    .venv/bin/python bench/cli_startup.py --runs 9
    .venv/bin/python bench/cli_startup.py --checkout /tmp/older   # another checkout's code

``--checkout`` runs the code of another checkout of this repository with this
virtualenv's packages (the command runs with that folder as its working directory, so
Python imports its ``licensing`` first): the before/after figures of bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

COMMANDS = (("--help",), ("product", "list"))
# The console script's body, run from the checkout so that its code is imported.
ENTRY = "import sys; from licensing.cli import main; sys.argv[0] = 'licensing'; main()"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command")
    parser.add_argument(
        "--checkout",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the checkout whose code runs (default: this one)",
    )
    return parser.parse_args(argv)


def timed(args: Sequence[str], *, checkout: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``licensing ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=checkout,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="licensing-cli-") as instance:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
        env |= {"LICENSING_INSTANCE_PATH": instance, "LICENSING_LOG_JSON": "false"}
        timed(("product", "list"), checkout=options.checkout, env=env)  # creates the database
        print(f"code: {options.checkout}, {options.runs} runs each, SQLite")
        for args in COMMANDS:
            runs = [timed(args, checkout=options.checkout, env=env) for _ in range(options.runs)]
            wall = [w for w, _ in runs]
            cpu = [c for _, c in runs]
            print(
                f"licensing {' '.join(args):<14} median {statistics.median(wall):.3f} s"
                f" (min {min(wall):.3f}, max {max(wall):.3f}),"
                f" CPU {statistics.median(cpu):.3f} s"
            )


if __name__ == "__main__":
    main()
