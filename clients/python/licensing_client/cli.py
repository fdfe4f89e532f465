"""``licensing-client``: activate, check-in, deactivate and status from a shell; and, for
partners, ``partner check`` and ``partner releases``.

Exit codes: ``0`` done (and valid); ``1`` an error (one line on stderr with the problem
code); ``2`` a usage error (missing or malformed option, malformed key); ``3`` the
license is not valid (``status``, a check-in verdict that is not valid, or a partner
check that is not valid or, with ``--target-version``, not eligible).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from licensing_client._version import __version__
from licensing_client.errors import ConfigurationError, LicensingClientError, MalformedKeyError
from licensing_client.instance import InstanceClient
from licensing_client.models import (
    ActivationResult,
    CheckInResult,
    DeactivationResult,
    Lease,
    LicenseCheck,
    Release,
    Status,
)
from licensing_client.offline import offline_status
from licensing_client.partner import PartnerClient

PROG = "licensing-client"
EXIT_ERROR, EXIT_USAGE, EXIT_NOT_VALID = 1, 2, 3
# option -> (environment variable, required)
_SETTINGS = {
    "server": ("LICENSING_SERVER", True),
    "key": ("LICENSING_KEY", True),
    "product": ("LICENSING_PRODUCT", True),
    "state_dir": ("LICENSING_STATE_DIR", True),
    "jwks": ("LICENSING_JWKS", True),
    "version": ("LICENSING_PRODUCT_VERSION", False),
}
# status reads the state directory and the pinned keys; nothing else is needed offline.
_STATUS_SETTINGS = {
    "state_dir": ("LICENSING_STATE_DIR", True),
    "jwks": ("LICENSING_JWKS", True),
    "key": ("LICENSING_KEY", False),
    "product": ("LICENSING_PRODUCT", False),
}
_PARTNER_SETTINGS = {
    "server": ("LICENSING_SERVER", True),
    "api_key": ("LICENSING_PARTNER_API_KEY", True),
}


class UsageError(Exception):
    """Bad command line: exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection and identity")
    group.add_argument("--server", help="server base URL (env LICENSING_SERVER)")
    group.add_argument("--key", help="license key (env LICENSING_KEY, preferred over --key)")
    group.add_argument("--product", help="product code (env LICENSING_PRODUCT)")
    group.add_argument("--state-dir", help="state directory (env LICENSING_STATE_DIR)")
    group.add_argument("--jwks", metavar="FILE", help="pinned server keys (env LICENSING_JWKS)")
    group.add_argument("--version", help="product version reported (env LICENSING_PRODUCT_VERSION)")
    group.add_argument("--server-name", help="server name reported (default: the FQDN)")
    group.add_argument("--platform", help="platform reported on activation")
    group.add_argument("--fingerprint", help="use this instance fingerprint, not the stored one")
    group.add_argument(
        "--usage",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="usage counter to report (repeatable), e.g. --usage mailboxes=120",
    )
    group.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    group.add_argument("--retries", type=int, default=3, help="retries after the first attempt")
    group.add_argument("--json", action="store_true", help="print JSON")

    parser = _Parser(
        prog=PROG, description="Client of the license telemetry server (wire protocol v1)."
    )
    parser.add_argument("--client-version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("activate", "activate this instance (takes a seat, stores the lease)"),
        ("check-in", "heartbeat and usage report (refreshes the lease)"),
        ("deactivate", "release this instance's seat"),
        (
            "status",
            "offline: is the stored lease valid now? (exit 3 if not); needs only "
            "--state-dir and --jwks",
        ),
    ):
        commands.add_parser(name, parents=[common], help=text, description=text)
    _add_partner_commands(commands)
    return parser


def _add_partner_commands(commands: Any) -> None:
    text = "for partners: check a customer's license, list a product's releases (API key)"
    partner = commands.add_parser("partner", help=text, description=text)
    actions = partner.add_subparsers(dest="partner_command", required=True, metavar="COMMAND")
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--server", help="server base URL (env LICENSING_SERVER)")
    group.add_argument(
        "--api-key",
        help="partner API key (env LICENSING_PARTNER_API_KEY, preferred over --api-key)",
    )
    group.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    group.add_argument("--retries", type=int, default=3, help="retries after the first attempt")
    group.add_argument("--json", action="store_true", help="print JSON (the server's answer)")

    text = "is LICENSE_KEY valid and, with --target-version, eligible for it? (exit 3 if not)"
    check = actions.add_parser("check", parents=[common], help=text, description=text)
    check.add_argument("license_key", metavar="LICENSE_KEY", help="the customer's license key")
    check.add_argument("--target-version", metavar="VERSION", help="the version to upgrade to")

    text = "a product's releases, oldest first"
    releases = actions.add_parser("releases", parents=[common], help=text, description=text)
    releases.add_argument("product", metavar="PRODUCT", help="product code")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(EXIT_USAGE, f"usage: {exc} (see {PROG} COMMAND --help)")
    if args.command == "partner":
        return _partner_main(args)
    if args.command == "status":
        return _status_main(args)
    return _instance_main(args)


def _status_main(args: argparse.Namespace) -> int:
    """Offline: no server address or license key needed, only the state and pinned keys."""
    try:
        settings = _settings(args, _STATUS_SETTINGS)
        status = offline_status(
            settings["state_dir"],
            settings["jwks"],
            product=settings["product"],
            license_key=settings["key"],
            fingerprint=args.fingerprint,
        )
    except UsageError as exc:
        return _fail(EXIT_USAGE, f"usage: {exc} (see {PROG} status --help)")
    except (ConfigurationError, MalformedKeyError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    except LicensingClientError as exc:
        return _fail(EXIT_ERROR, str(exc))
    print(json.dumps(to_json(status), indent=2) if args.json else _status_text(status))
    return 0 if status.valid else EXIT_NOT_VALID


def _instance_main(args: argparse.Namespace) -> int:
    try:
        usage = _usage(args.usage)
        settings = _settings(args)
        if args.command in ("activate", "check-in") and not settings["version"]:
            raise UsageError("--version (or LICENSING_PRODUCT_VERSION) is required")
        client = InstanceClient(
            settings["server"],
            settings["key"],
            settings["product"],
            settings["state_dir"],
            settings["jwks"],
            fingerprint=args.fingerprint,
            timeout=args.timeout,
            retries=args.retries,
            product_version=settings["version"],
            server_name=args.server_name,
            platform=args.platform,
        )
    except UsageError as exc:
        return _fail(EXIT_USAGE, f"usage: {exc} (see {PROG} COMMAND --help)")
    except (ConfigurationError, MalformedKeyError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    except LicensingClientError as exc:
        return _fail(EXIT_ERROR, str(exc))
    with client:
        try:
            return _run(client, args.command, usage, as_json=args.json)
        except ConfigurationError as exc:
            return _fail(EXIT_USAGE, str(exc))
        except LicensingClientError as exc:
            return _fail(EXIT_ERROR, str(exc))


def _run(
    client: InstanceClient, command: str, usage: dict[str, int] | None, *, as_json: bool
) -> int:
    valid = True
    text: str
    result: object
    if command == "activate":
        activation = client.activate(usage=usage)
        result, text = activation, _activation_text(activation)
    elif command == "check-in":
        check_in = client.check_in(usage=usage)
        result, text, valid = check_in, _check_in_text(check_in), check_in.valid
    else:  # deactivate; status runs offline, without a client
        released = client.deactivate()
        result, text = released, _deactivation_text(released)
    print(json.dumps(to_json(result), indent=2) if as_json else text)
    return 0 if valid else EXIT_NOT_VALID


def _partner_main(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args, _PARTNER_SETTINGS)
        client = PartnerClient(
            settings["server"], settings["api_key"], timeout=args.timeout, retries=args.retries
        )
    except UsageError as exc:
        return _fail(EXIT_USAGE, f"usage: {exc} (see {PROG} partner COMMAND --help)")
    except ConfigurationError as exc:
        return _fail(EXIT_USAGE, str(exc))
    with client:
        try:
            if args.partner_command == "check":
                check = client.check(args.license_key, args.target_version)
                print(json.dumps(check_json(check), indent=2) if args.json else _check_text(check))
                return 0 if check.ok else EXIT_NOT_VALID
            found = client.releases(args.product)
            print(
                json.dumps(releases_json(args.product, found), indent=2)
                if args.json
                else _releases_text(found)
            )
            return 0
        except (ConfigurationError, MalformedKeyError) as exc:
            return _fail(EXIT_USAGE, str(exc))
        except LicensingClientError as exc:
            return _fail(EXIT_ERROR, str(exc))


def _settings(
    args: argparse.Namespace, table: Mapping[str, tuple[str, bool]] = _SETTINGS
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (variable, required) in table.items():
        value = getattr(args, name) or os.environ.get(variable) or None
        if required and not value:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} (or {variable}) is required")
        values[name] = value
    return values


def _usage(items: Sequence[str]) -> dict[str, int] | None:
    usage: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise UsageError(f"--usage expects NAME=COUNT (a non-negative integer), not {item!r}")
        usage[name.strip()] = int(value)
    return usage or None


def _fail(code: int, message: str) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


# -- output ---------------------------------------------------------------------------


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


def to_json(value: Any) -> Any:
    """Results as JSON-ready data: times in RFC 3339, the lease without its token."""
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, Lease):
        return {
            "expires_at": _time(value.expires_at),
            "issued_at": _time(value.issued_at),
            "activation_id": value.activation_id,
            "license_id": value.license_id,
            "entitlements": list(value.entitlements),
            "license_status": value.license_status,
            "server_key_id": value.server_key_id,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Status):
            data["expires_at"] = _time(value.expires_at) if value.expires_at else None
        return data
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def _activation_text(result: ActivationResult) -> str:
    lic = result.license
    return "\n".join(
        [
            f"activated: {result.activation_id} ({'new' if result.created else 'already active'})",
            f"license: {lic.product} {lic.edition}, {lic.status}, "
            f"activations {lic.activations_used}/{lic.activations_allowed}",
            f"lease valid until: {_time(result.lease.expires_at)}",
            f"next check-in: {_time(result.next_check_in_at)}",
        ]
    )


def _check_in_text(result: CheckInResult) -> str:
    head = "valid" if result.valid else f"not valid: {result.code}: {result.detail or ''}".strip()
    lines = [head]
    if result.lease:
        lines.append(f"lease valid until: {_time(result.lease.expires_at)}")
    if result.next_check_in_at:
        lines.append(f"next check-in: {_time(result.next_check_in_at)}")
    return "\n".join(lines)


def _deactivation_text(result: DeactivationResult) -> str:
    return f"deactivated: {result.activation_id}"


def _status_text(result: Status) -> str:
    if result.valid:
        return f"valid until {_time(result.expires_at)} (activation {result.activation_id})"
    return f"not valid: {result.code}: {result.detail}"


def check_json(check: LicenseCheck) -> dict[str, Any]:
    """A partner check as the server sent it (PROTOCOL.md §6), plus ``request_id``."""
    lic = check.license
    data: dict[str, Any] = {
        "license": {
            "product": lic.product,
            "edition": lic.edition,
            "status": lic.status,
            "valid": lic.valid,
            "code": lic.code,
            "expires_at": _time(lic.expires_at) if lic.expires_at else None,
            "upgrade_protection_until": (
                _time(lic.upgrade_protection_until) if lic.upgrade_protection_until else None
            ),
            "activations": {"used": lic.activations_used, "allowed": lic.activations_allowed},
        }
    }
    if check.upgrade is not None:
        data["upgrade"] = to_json(check.upgrade)
    data["request_id"] = check.request_id
    return data


def releases_json(product: str, releases: Sequence[Release]) -> dict[str, Any]:
    return {"product": product, "releases": [to_json(release) for release in releases]}


def _check_text(check: LicenseCheck) -> str:
    lic = check.license
    what = f"{lic.product} {lic.edition}, {lic.status}"
    lines = [f"valid: {what}" if lic.valid else f"not valid: {lic.code}: {what}"]
    lines.append(f"expires: {_time(lic.expires_at) if lic.expires_at else 'never'}")
    protection = _time(lic.upgrade_protection_until) if lic.upgrade_protection_until else "none"
    lines.append(f"upgrade protection until: {protection}")
    lines.append(f"activations: {lic.activations_used}/{lic.activations_allowed}")
    upgrade = check.upgrade
    if upgrade is not None:
        verdict = "eligible" if upgrade.eligible else "not eligible"
        line = f"upgrade to {upgrade.target_version}: {verdict} ({upgrade.reason})"
        line += f", latest eligible version: {upgrade.latest_eligible_version or 'none'}"
        if upgrade.renewal_required:
            line += ", renewal required"
        lines.append(line)
    return "\n".join(lines)


def _releases_text(releases: Sequence[Release]) -> str:
    if not releases:
        return "no releases"
    width = max(len(release.version) for release in releases)
    return "\n".join(
        f"{release.version.ljust(width)}  {_time(release.released_at)}" for release in releases
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
