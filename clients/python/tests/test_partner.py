"""PartnerClient against a fake partner API (PROTOCOL.md §6, §7): requests, answers, errors."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest
import requests
from fakepartner import (
    API_KEY,
    API_KEY_ID,
    REQUEST_ID,
    Answer,
    PartnerHarness,
    check_answer,
    license_object,
    problem,
    releases_answer,
    upgrade_object,
)
from licensing_client import (
    ConfigurationError,
    ForbiddenError,
    InvalidRequestError,
    LicenseCheck,
    LicenseNotFoundError,
    LicensingClientError,
    MalformedKeyError,
    NotFoundError,
    PartnerClient,
    RateLimitedError,
    Release,
    ServerUnreachableError,
    UnauthenticatedError,
    UnexpectedResponseError,
    Upgrade,
)

# The test vector of docs/protocol.md §2 (not a real license).
KEY = "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"
CHECKS = "/v1/partner/license-checks"


# -- requests ---------------------------------------------------------------------------


def test_check_sends_the_bearer_key_and_the_normalised_key(partner: PartnerHarness) -> None:
    partner.server.queue(check_answer(upgrade=upgrade_object()))
    partner.client.check("6e86n jy2mx k1ws8 jmxtq ehxdk", target_version="2.1.0")
    (sent,) = partner.server.received
    assert (sent.method, sent.path) == ("POST", CHECKS)
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {"license_key": KEY, "target_version": "2.1.0"}
    # Partner calls are not signed (only instance calls are, §2).
    assert not {"Signature", "Signature-Input", "Content-Digest"} & set(sent.headers)


def test_check_without_a_target_sends_no_target(partner: PartnerHarness) -> None:
    partner.server.queue(check_answer())
    check = partner.client.check(KEY)
    assert partner.server.received[0].json == {"license_key": KEY}
    assert check.upgrade is None


def test_netrc_credentials_do_not_replace_the_bearer_key(
    partner: PartnerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", lambda *_a, **_k: ("user", "pw"))
    session = requests.Session()  # trust_env stays on: ~/.netrc would be read
    session.mount("http://partner.test", partner.server)
    client = partner.make_client(session=session)
    partner.server.queue(check_answer())
    client.check(KEY)
    assert partner.server.received[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_releases_requests_the_product_path(partner: PartnerHarness) -> None:
    partner.server.queue(releases_answer(), releases_answer("odd/code"))
    partner.client.releases("demo-mailserver")
    partner.client.releases("odd/code")
    first, second = partner.server.received
    assert (first.method, first.path) == ("GET", "/v1/partner/products/demo-mailserver/releases")
    assert first.body == b""
    assert first.headers["Authorization"] == f"Bearer {API_KEY}"
    assert second.path == "/v1/partner/products/odd%2Fcode/releases"


@pytest.mark.parametrize(
    "bad",
    ["ABCDE-FGHJK", "6E86N-JY2MX-K1WS8-JMXTQ-EHXDA", "6E86N-JY2MX-K1WS8-JMXTQ-EHXD!", "ＡＢＣ", ""],
)
def test_a_malformed_key_is_never_sent(partner: PartnerHarness, bad: str) -> None:
    with pytest.raises(MalformedKeyError) as caught:
        partner.client.check(bad, target_version="2.1.0")
    assert caught.value.code == "MALFORMED_KEY"
    assert caught.value.status is None
    assert partner.server.received == []


@pytest.mark.parametrize("product", ["", ".", ".."])
def test_releases_needs_a_product_code(partner: PartnerHarness, product: str) -> None:
    with pytest.raises(ConfigurationError):
        partner.client.releases(product)
    assert partner.server.received == []


# -- answers ----------------------------------------------------------------------------


def test_a_valid_and_eligible_answer(partner: PartnerHarness) -> None:
    partner.server.queue(
        check_answer(
            license_object(expires_at="2027-06-30T00:00:00Z"),
            upgrade_object(),
        )
    )
    check = partner.client.check(KEY, target_version="2.1.0")
    assert isinstance(check, LicenseCheck)
    lic = check.license
    assert (lic.product, lic.edition, lic.status, lic.valid, lic.code) == (
        "demo-mailserver",
        "standard",
        "active",
        True,
        "VALID",
    )
    assert lic.expires_at == datetime(2027, 6, 30, tzinfo=UTC)
    assert lic.upgrade_protection_until == datetime(2027, 1, 1, tzinfo=UTC)
    assert (lic.activations_used, lic.activations_allowed) == (1, 3)
    assert check.upgrade == Upgrade(
        target_version="2.1.0",
        eligible=True,
        reason="COVERED",
        latest_eligible_version="2.1.0",
        renewal_required=False,
    )
    assert (check.valid, check.code, check.ok) == (True, "VALID", True)
    assert check.request_id == REQUEST_ID
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.license.valid = False  # type: ignore[misc]


def test_protection_expired_is_an_answer_not_an_error(partner: PartnerHarness) -> None:
    partner.server.queue(
        check_answer(
            license_object(upgrade_protection_until="2026-08-01T00:00:00Z"),
            upgrade_object(
                eligible=False,
                reason="PROTECTION_EXPIRED",
                latest_eligible_version="2.0.0",
                renewal_required=True,
            ),
        )
    )
    check = partner.client.check(KEY, target_version="2.1.0")
    assert check.valid
    assert not check.ok
    assert check.upgrade is not None
    assert (check.upgrade.reason, check.upgrade.renewal_required) == ("PROTECTION_EXPIRED", True)
    assert check.upgrade.latest_eligible_version == "2.0.0"


def test_an_invalid_license_is_an_answer_not_an_error(partner: PartnerHarness) -> None:
    partner.server.queue(
        check_answer(
            license_object(status="revoked", valid=False, code="REVOKED"),
            upgrade_object(eligible=False, reason="LICENSE_INVALID", latest_eligible_version=None),
        )
    )
    check = partner.client.check(KEY, target_version="2.1.0")
    assert (check.valid, check.code, check.ok) == (False, "REVOKED", False)
    assert check.upgrade is not None
    assert check.upgrade.latest_eligible_version is None


def test_unknown_members_are_ignored(partner: PartnerHarness) -> None:
    answer = check_answer()
    assert isinstance(answer.body, dict)
    answer.body["license"]["future_member"] = 1
    answer.body["future"] = {"x": 1}
    partner.server.queue(answer)
    assert partner.client.check(KEY).valid


def test_releases_are_typed(partner: PartnerHarness) -> None:
    partner.server.queue(releases_answer())
    releases = partner.client.releases("demo-mailserver")
    assert releases == [
        Release("1.0.0", datetime(2025, 1, 15, tzinfo=UTC)),
        Release("2.0.0", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        Release("2.1.0", datetime(2026, 9, 1, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"license": license_object(valid="yes")},
        {"license": license_object(activations={"used": 1})},
        {"license": license_object(activations={"used": True, "allowed": 1})},
        {"license": license_object(expires_at="next year")},
        {"license": license_object(), "upgrade": {"eligible": True}},
        {"nothing": True},
        [1, 2],
        b"<html>proxy</html>",
    ],
)
def test_answers_the_client_cannot_read(partner: PartnerHarness, body: object) -> None:
    partner.server.queue(Answer(body=body))  # type: ignore[arg-type]
    with pytest.raises(UnexpectedResponseError) as caught:
        partner.client.check(KEY)
    assert caught.value.status == 200
    assert caught.value.request_id == REQUEST_ID


def test_a_releases_answer_without_a_list(partner: PartnerHarness) -> None:
    partner.server.queue(Answer(body={"product": "demo-mailserver"}))
    with pytest.raises(UnexpectedResponseError, match="releases"):
        partner.client.releases("demo-mailserver")


def test_a_redirect_is_not_followed(partner: PartnerHarness) -> None:
    partner.server.queue(Answer(status=302, headers={"Location": "http://elsewhere.test/"}))
    with pytest.raises(UnexpectedResponseError) as caught:
        partner.client.check(KEY)
    assert caught.value.status == 302
    assert len(partner.server.received) == 1


# -- problems ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "UNAUTHENTICATED", UnauthenticatedError),
        (403, "FORBIDDEN", ForbiddenError),
        (404, "LICENSE_NOT_FOUND", LicenseNotFoundError),
        (422, "INVALID_REQUEST", InvalidRequestError),
    ],
)
def test_problems_map_to_errors_and_are_not_retried(
    partner: PartnerHarness, status: int, code: str, kind: type[LicensingClientError]
) -> None:
    partner.server.queue(problem(status, code, "what went wrong"))
    with pytest.raises(kind) as caught:
        partner.client.check(KEY, target_version="2.1.0")
    error = caught.value
    assert type(error) is kind
    assert (error.code, error.detail, error.status, error.request_id) == (
        code,
        "what went wrong",
        status,
        REQUEST_ID,
    )
    assert not isinstance(error, ServerUnreachableError)
    assert len(partner.server.received) == 1
    assert partner.sleeps == []


def test_invalid_request_carries_the_field_errors(partner: PartnerHarness) -> None:
    partner.server.queue(
        problem(
            422,
            "INVALID_REQUEST",
            "'x' is not a version",
            errors={"target_version": ["not a PEP 440 or semver version"]},
        )
    )
    with pytest.raises(InvalidRequestError) as caught:
        partner.client.check(KEY, target_version="x")
    assert caught.value.errors == {"target_version": ["not a PEP 440 or semver version"]}


def test_another_404_is_not_found_but_no_license_not_found(partner: PartnerHarness) -> None:
    partner.server.queue(problem(404, "NOT_FOUND", "no product 'other'"))
    with pytest.raises(NotFoundError) as caught:
        partner.client.releases("other")
    assert not isinstance(caught.value, LicenseNotFoundError)
    assert caught.value.code == "NOT_FOUND"


def test_a_problem_without_a_json_body_is_classified_by_status(partner: PartnerHarness) -> None:
    partner.server.queue(Answer(status=401, body=b"Unauthorized", headers={"X-Request-Id": "p-1"}))
    with pytest.raises(UnauthenticatedError) as caught:
        partner.client.check(KEY)
    assert (caught.value.code, caught.value.status, caught.value.request_id) == (
        "UNAUTHENTICATED",
        401,
        "p-1",
    )


# -- retries ----------------------------------------------------------------------------


def test_429_with_retry_after_then_200(partner: PartnerHarness) -> None:
    limited = problem(429, "RATE_LIMITED", "60 per 1 minute")
    limited.headers = {"Retry-After": "7", "RateLimit-Limit": "60", "RateLimit-Remaining": "0"}
    partner.server.queue(limited, check_answer())
    assert partner.client.check(KEY).valid
    assert partner.sleeps == [7.0]
    assert len(partner.server.received) == 2


def test_429_after_every_retry_raises_rate_limited(partner: PartnerHarness) -> None:
    def limited(_received: object) -> Answer:
        answer = problem(429, "RATE_LIMITED", "60 per 1 minute")
        answer.headers = {"Retry-After": "2"}
        return answer

    partner.server.default = limited
    with pytest.raises(RateLimitedError) as caught:
        partner.client.check(KEY)
    error = caught.value
    assert isinstance(error, ServerUnreachableError)
    assert (error.code, error.status, error.retry_after) == ("RATE_LIMITED", 429, 2.0)
    assert error.request_id == REQUEST_ID
    assert len(partner.server.received) == 4
    assert partner.sleeps == [2.0, 2.0, 2.0]


def test_a_retry_after_beyond_the_limit_ends_the_retries(partner: PartnerHarness) -> None:
    limited = problem(429, "RATE_LIMITED")
    limited.headers = {"Retry-After": "60"}
    partner.server.queue(limited)
    client = partner.make_client(max_retry_after=10)
    with pytest.raises(RateLimitedError) as caught:
        client.releases("demo-mailserver")
    assert caught.value.retry_after == 60
    assert partner.sleeps == []


def test_a_bare_429_is_still_rate_limited(partner: PartnerHarness) -> None:
    partner.server.queue(Answer(status=429, body=b"slow down"))
    client = partner.make_client(retries=0)
    with pytest.raises(RateLimitedError) as caught:
        client.check(KEY)
    assert (caught.value.code, caught.value.retry_after) == ("RATE_LIMITED", None)


def test_5xx_and_connection_errors_are_retried_with_backoff(partner: PartnerHarness) -> None:
    partner.server.queue(
        problem(503, "INTERNAL_ERROR"),
        Answer(error=requests.ConnectionError("refused")),
        Answer(status=502, body=b"<html>bad gateway</html>"),
        check_answer(),
    )
    assert partner.client.check(KEY).valid
    assert partner.sleeps == [0.5, 1.0, 2.0]


def test_unreachable_after_the_retries(partner: PartnerHarness) -> None:
    partner.server.default = lambda _r: Answer(error=requests.Timeout("slow"))
    client = partner.make_client(retries=1, backoff=2)
    with pytest.raises(ServerUnreachableError, match="slow") as caught:
        client.check(KEY)
    assert type(caught.value) is ServerUnreachableError
    assert caught.value.code == "SERVER_UNREACHABLE"
    assert partner.sleeps == [2.0]


def test_5xx_after_the_retries_keeps_the_server_code(partner: PartnerHarness) -> None:
    partner.server.default = lambda _r: problem(500, "INTERNAL_ERROR", "down")
    with pytest.raises(ServerUnreachableError) as caught:
        partner.client.releases("demo-mailserver")
    assert type(caught.value) is ServerUnreachableError
    assert (caught.value.code, caught.value.status) == ("INTERNAL_ERROR", 500)


# -- the API key stays secret -----------------------------------------------------------


def test_the_api_key_is_in_no_repr_message_or_log(
    partner: PartnerHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = partner.client
    assert repr(client) == f"PartnerClient('http://partner.test', key_id='{API_KEY_ID}')"
    assert API_KEY not in repr(client.api_key)
    assert API_KEY not in repr(client._transport._auth)  # type: ignore[attr-defined]
    partner.server.queue(
        Answer(error=requests.ConnectionError("refused")),
        problem(401, "UNAUTHENTICATED", "the API key is not valid"),
    )
    with pytest.raises(UnauthenticatedError) as caught:
        client.check(KEY)
    error = caught.value
    texts = [str(error), repr(error), error.detail, repr(error.problem), caplog.text]
    assert all(API_KEY not in text for text in texts)
    assert all("5OWWnvcSowBZ" not in text for text in texts)


@pytest.mark.parametrize(
    "bad", ["", "   ", "lpk_abc def", "lpk_abc\r\nX-Injected: 1", "lpk_ключ", None]
)
def test_an_unusable_api_key_is_refused_without_quoting_it(bad: str | None) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PartnerClient("http://partner.test", bad)  # type: ignore[arg-type]
    if bad and bad.strip():
        assert bad.strip() not in str(caught.value)


def test_surrounding_whitespace_is_dropped_from_the_api_key(partner: PartnerHarness) -> None:
    client = partner.make_client(api_key=f"  {API_KEY}\n")
    partner.server.queue(check_answer())
    client.check(KEY)
    assert partner.server.received[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_key_of_another_shape_is_sent_as_it_is(partner: PartnerHarness) -> None:
    client = partner.make_client(api_key="opaque-token.v2")
    assert client.api_key.key_id is None
    partner.server.queue(check_answer())
    client.check(KEY)
    assert partner.server.received[0].headers["Authorization"] == "Bearer opaque-token.v2"


@pytest.mark.parametrize(
    "options", [{"timeout": 0}, {"retries": -1}, {"backoff": -1.0}, {"base_url": "ftp://x"}]
)
def test_bad_options(options: dict[str, object]) -> None:
    base_url = str(options.pop("base_url", "http://partner.test"))
    with pytest.raises(ConfigurationError):
        PartnerClient(base_url, API_KEY, **options)  # type: ignore[arg-type]


def test_the_client_is_a_context_manager(partner: PartnerHarness) -> None:
    partner.server.queue(releases_answer())
    with partner.make_client() as client:
        assert len(client.releases("demo-mailserver")) == 3
