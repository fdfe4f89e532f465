"""Options several commands share: a reason for the audit log, and ``--yes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class Reason(click.ParamType[str, Any]):
    """Why an operator did something: kept in the audit log, so never blank."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("must not be empty: say why (it is kept in the audit log)", param, ctx)
        return text


REASON = Reason()

license_reference = click.argument("reference", metavar="LICENSE")
license_reference_help = "LICENSE is a license id, key id, or the license key itself."


def reason_option(*, required: bool = True) -> Callable[[F], F]:
    """``--reason TEXT``: required unless told otherwise, never empty when given."""
    return click.option(
        "--reason", type=REASON, required=required, help="Why (kept in the audit log)."
    )


yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def confirm(question: str, *, yes: bool) -> None:
    """Ask ``question`` unless ``--yes`` was given; anything but yes changes nothing."""
    if yes:
        return
    try:
        agreed = click.confirm(question, err=True)
    except click.Abort:  # no answer at all: standard input is closed (a script, CI)
        click.echo(err=True)  # end the unanswered question's line
        raise click.ClickException(
            "this needs confirmation: answer the question, or pass --yes"
        ) from None
    if not agreed:
        raise click.ClickException("not confirmed; nothing was changed")
