"""Thresholds from configuration and from a backtest's ``--threshold NAME=VALUE``."""

from __future__ import annotations

import pytest

from licensing.misuse.thresholds import Thresholds


def test_the_defaults_are_the_designs() -> None:
    defaults = Thresholds()

    assert defaults.server_spread_factor == 3
    assert defaults.lookback_days == 30
    assert defaults.churn_days == 7


def test_values_are_read_from_numbers_and_text_over_a_base() -> None:
    base = Thresholds(churn_events=9)

    tuned = Thresholds.from_mapping({"network_spread_networks": "8", "clone_repeats": 2}, base)

    assert tuned.network_spread_networks == 8
    assert tuned.clone_repeats == 2
    assert tuned.churn_events == 9
    assert Thresholds.from_mapping({}) == Thresholds()


def test_an_unknown_name_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown misuse threshold.*network_spred.*known: lookback_days"
    ):
        Thresholds.from_mapping({"network_spred": 3})


@pytest.mark.parametrize("value", [0, -1, "x", "1.5", True, None, 2.0])
def test_values_must_be_whole_numbers_of_at_least_one(value: object) -> None:
    with pytest.raises(ValueError, match="clone_repeats"):
        Thresholds.from_mapping({"clone_repeats": value})


@pytest.mark.parametrize(
    ("name", "largest"),
    [
        ("lookback_days", 400),
        ("churn_days", 400),
        ("revoked_grace_hours", 24 * 400),
        ("signature_window_minutes", 60 * 24 * 30),
        ("clone_repeats", 1_000_000),
        ("signature_burst", 1_000_000),
    ],
)
def test_each_threshold_takes_values_up_to_its_largest(name: str, largest: int) -> None:
    assert getattr(Thresholds.from_mapping({name: largest}), name) == largest
    assert getattr(Thresholds.from_mapping({name: str(largest)}), name) == largest
    with pytest.raises(ValueError, match=f"^misuse threshold {name} must be at most {largest}, "):
        Thresholds.from_mapping({name: largest + 1})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lookback_days", "3000000"),
        ("revoked_grace_hours", "99999999999"),
        ("churn_days", "9" * 5000),  # more digits than int() reads
        ("signature_burst", 10**30),
    ],
)
def test_values_past_the_largest_are_one_line_not_an_overflow(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name} must be at most") as raised:
        Thresholds.from_mapping({name: value})
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 120


def test_the_defaults_are_within_the_largest() -> None:
    for name in Thresholds.names():
        assert 1 <= getattr(Thresholds(), name) <= Thresholds.largest(name)
