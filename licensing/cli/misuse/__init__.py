"""``licensing misuse``: what the misuse rules found and what staff make of it.

The group lives in ``group.py``; each concern is a module here that adds its commands to
it. A new concern is a module and one line in ``CONCERNS``.
"""

from __future__ import annotations

import importlib

from licensing.cli.misuse.group import misuse

# Imported for their commands, which they register on ``misuse``.
CONCERNS = ("scan", "backtest", "cases", "decisions", "exceptions", "stats")

for _concern in CONCERNS:
    importlib.import_module(f"{__name__}.{_concern}")

__all__ = ["misuse"]
