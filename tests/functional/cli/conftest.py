"""Fixtures for the ``licensing`` command tests."""

from __future__ import annotations

import pytest
from flask.testing import FlaskCliRunner

from tests.functional.cli.invoke import Licensing


@pytest.fixture
def licensing(runner: FlaskCliRunner) -> Licensing:
    """The ``licensing`` command, run in-process inside the test's transaction."""
    return Licensing(runner)
