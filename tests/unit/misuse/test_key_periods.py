"""Rules over keyed hashes across a month boundary: a value hashes differently in each
key month, so servers and addresses are counted within one month, the busiest taken.

The observations here carry hashes as the check-in path makes them: the value under
its month's key (here a stand-in HMAC keyed by the month).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

from licensing.misuse.clones import cloned_instance
from licensing.misuse.history import Observation, distinct_per_period
from licensing.misuse.spread import network_spread, server_spread
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import NOW, daily, history

DEFAULTS = Thresholds()


def monthly(observations: list[Observation]) -> list[Observation]:
    """``observations`` with their server and address hashed under their month's key."""

    def hashed(value: str | None, o: Observation) -> str | None:
        if value is None:
            return None
        key = f"key of {o.key_period}".encode()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    return [
        dataclasses.replace(o, server_key=hashed(o.server_key, o), ip_key=hashed(o.ip_key, o))
        for o in observations
    ]


def test_the_months_straddled_by_the_window_are_counted_apart() -> None:
    # NOW is 30 June: days 10..0 back lie in June, the next days in July.
    june = daily(1, 10, server="host-1.example.com")
    assert {o.key_period for o in june} == {"2026-06"}
    assert (
        distinct_per_period(
            monthly(june + daily(1, 10, server="host-2.example.com")), lambda o: o.server_key
        )
        == 2
    )


def test_a_steady_pair_of_servers_across_a_month_boundary_does_not_spread() -> None:
    # Two servers on one seat every day from mid-June into July: four hashes in all,
    # more than three per seat if months were mixed, but two in each month.
    later = NOW.replace(day=15, month=7)
    days = [
        o
        for server in ("host-1.example.com", "host-2.example.com")
        for o in daily(1, 25, server=server)  # 5 June .. 30 June
        + daily(1, -1, -15, server=server)  # 1 July .. 15 July
    ]
    observations = tuple(monthly(days))
    assert len({o.server_key for o in observations}) == 4

    assert server_spread(history(observations=observations), DEFAULTS, later) == []


def test_server_spread_fires_on_a_month_with_too_many_servers() -> None:
    later = NOW.replace(day=10, month=7)
    june = [o for n in range(2) for o in daily(1, 10, server=f"host-{n}.example.com")]
    july = [o for n in range(4) for o in daily(1, -1, -10, server=f"host-{n}.example.com")]
    observations = monthly(june + july)

    (finding,) = server_spread(history(observations=tuple(observations)), DEFAULTS, later)

    assert finding.evidence["distinct_servers"] == 4  # July's four, not 2 + 4
    assert finding.evidence["limit"] == 3
    listed = finding.evidence["servers"]
    assert len(listed) == 6 and {s["period"] for s in listed} == {"2026-06", "2026-07"}
    assert "4 distinct servers" in finding.summary


def test_network_spread_counts_prefixes_which_do_not_change_with_the_month() -> None:
    later = NOW.replace(day=3, month=7)
    sites = [o for n in range(3) for o in daily(1, 4, network=f"203.0.{n}.0/24")]
    sites += [o for n in range(3, 6) for o in daily(1, -1, -3, network=f"203.0.{n}.0/24")]
    observations = tuple(monthly(sites))

    (finding,) = network_spread(history(observations=observations), DEFAULTS, later)

    assert finding.evidence["distinct_networks"] == 6
    assert finding.evidence["addresses"] == 1  # one address, hashed once per month


def test_a_clone_on_two_networks_is_found_across_a_month_boundary() -> None:
    later = NOW.replace(day=4, month=7)
    both = [
        o
        for network, hour in (("198.51.100.0/24", 0), ("203.0.113.0/24", 1))
        for o in daily(1, 3, -3, network=network, first_hour=hour, last_hour=22 + hour)
    ]
    (finding,) = cloned_instance(history(observations=tuple(monthly(both))), DEFAULTS, later)

    (activation,) = finding.evidence["activations"]
    days = {d["day"][:7] for d in activation["days_on_two_networks"]}
    assert days == {"2026-06", "2026-07"}
    assert activation["servers"] == 1
