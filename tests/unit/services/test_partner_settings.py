"""Partner settings that would silently lock a partner out are refused."""

from __future__ import annotations

import pytest

from licensing.errors import InvalidRequest
from licensing.services.partners import normalise_networks, validate_rate_limit


@pytest.mark.parametrize("text", ["0/minute", "0 per hour"])
def test_a_rate_limit_of_zero_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest, match="refuse every request"):
        validate_rate_limit(text)


def test_networks_are_normalised_and_deduplicated() -> None:
    assert normalise_networks(["192.0.2.7", "192.0.2.0/24", "2001:db8::1/64", "192.0.2.7/32"]) == [
        "192.0.2.0/24",
        "192.0.2.7/32",
        "2001:db8::/64",
    ]
