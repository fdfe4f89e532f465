"""SERVER_SPREAD and NETWORK_SPREAD: many servers, many networks, and the NATed office."""

from __future__ import annotations

from licensing.misuse.spread import network_spread, server_spread
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import NOW, daily, history

DEFAULTS = Thresholds()


def test_more_servers_than_three_per_seat_spread() -> None:
    servers = [o for n in range(4) for o in daily(1, 10, server=f"host-{n}.example.com")]

    (finding,) = server_spread(history(observations=tuple(servers)), DEFAULTS, NOW)

    assert finding.evidence["distinct_servers"] == 4
    assert finding.evidence["limit"] == 3
    assert {s["server"] for s in finding.evidence["servers"]} == {
        f"host-{n}.example.com" for n in range(4)
    }
    assert finding.evidence["servers"][0]["check_ins"] == 11 * 24


def test_three_servers_per_seat_and_old_servers_stay_quiet() -> None:
    servers = [o for n in range(3) for o in daily(1, 10, server=f"host-{n}.example.com")]
    long_ago = daily(1, 80, 40, server="retired.example.com")

    assert server_spread(history(observations=tuple(servers + long_ago)), DEFAULTS, NOW) == []


def test_many_networks_spread() -> None:
    sites = [o for n in range(6) for o in daily(1, 5, network=f"203.0.{n}.0/24")]

    (finding,) = network_spread(history(observations=tuple(sites)), DEFAULTS, NOW)

    assert finding.evidence["distinct_networks"] == 6
    assert finding.evidence["networks"][0]["network"].startswith("203.0.")


def test_a_nated_office_is_one_network() -> None:
    office = [o for n in range(20) for o in daily(n, 20, server=f"desk-{n}.example.com")]

    assert (
        network_spread(history(allowed_activations=20, observations=tuple(office)), DEFAULTS, NOW)
        == []
    )


def test_the_threshold_is_configurable() -> None:
    sites = [o for n in range(3) for o in daily(1, 5, network=f"203.0.{n}.0/24")]
    strict = Thresholds.from_mapping({"network_spread_networks": 2})

    assert network_spread(history(observations=tuple(sites)), DEFAULTS, NOW) == []
    assert len(network_spread(history(observations=tuple(sites)), strict, NOW)) == 1
