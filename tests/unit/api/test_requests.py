"""The request helpers: the client's address as the server reports and limits it."""

from __future__ import annotations

from flask import Flask

from licensing.api.requests import client_ip


def test_an_ipv4_client_seen_through_a_dual_stack_listener_is_its_ipv4_address(
    app: Flask,
) -> None:
    with app.test_request_context(environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"}):
        assert client_ip(0) == "192.0.2.7"
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8::7"}):
        assert client_ip(0) == "2001:db8::7"
