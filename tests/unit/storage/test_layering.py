"""Persistence machinery stays below the services: what licensing/storage may import."""

from __future__ import annotations

import ast
from pathlib import Path

import licensing.storage

ALLOWED = ("licensing.models", "licensing.crypto", "licensing.errors", "licensing.timeutil")
STORAGE = Path(licensing.storage.__file__).parent


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from licensing import metrics" imports licensing.metrics
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def refused(name: str) -> bool:
    if name == "flask" or name.startswith("flask."):
        return True
    if not name.startswith("licensing"):
        return False
    own = name == "licensing.storage" or name.startswith("licensing.storage.")
    return not own and not any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_storage_imports_no_service_no_flask_no_metrics() -> None:
    found = {
        f"{path.name}: {name}"
        for path in STORAGE.glob("*.py")
        for name in imported(path)
        if refused(name)
    }
    assert found == set()


def test_the_rule_refuses_what_it_should() -> None:
    assert refused("licensing.services.checkins")
    assert refused("licensing.metrics")
    assert refused("flask")
    assert not refused("licensing.models")
    assert not refused("licensing.storage.statements")
    assert not refused("sqlalchemy")
