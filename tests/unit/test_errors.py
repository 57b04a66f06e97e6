"""The proxy's error hierarchy: statuses, OpenAI envelopes and Retry-After."""

from __future__ import annotations

import pytest

from cli_bridge.errors import (
    AuthenticationFailed,
    CliFailed,
    CliNotFound,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProxyError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from handlers.errors import openai_body


@pytest.mark.parametrize(
    ("cls", "status", "type_", "code"),
    [
        (ProxyError, 500, "server_error", None),
        (InvalidRequest, 400, "invalid_request_error", None),
        (ModelNotFound, 404, "invalid_request_error", "model_not_found"),
        (AuthenticationFailed, 401, "authentication_error", "invalid_api_key"),
        (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
        (CliNotFound, 503, "server_error", "cli_not_found"),
        (Overloaded, 503, "server_error", "upstream_overloaded"),
        (CliFailed, 502, "server_error", "cli_failed"),
        (UpstreamError, 502, "server_error", "upstream_error"),
        (Timeout, 504, "server_error", "timeout"),
    ],
)
def test_classes(cls, status, type_, code):
    err = cls("went wrong", param="p")
    assert isinstance(err, ProxyError)
    assert str(err) == "went wrong"
    assert err.status == status
    assert openai_body(err) == {
        "error": {"message": "went wrong", "type": type_, "param": "p", "code": code}
    }
    assert err.headers() == {}


def test_overrides_are_per_instance():
    err = CliFailed("x", code="max_turns", status=500, type="t")
    assert (err.code, err.status, err.type) == ("max_turns", 500, "t")
    assert (CliFailed("y").code, CliFailed("y").status) == ("cli_failed", 502)


@pytest.mark.parametrize(
    ("retry_after", "header"), [(0, "1"), (0.2, "1"), (1.4, "1"), (2.6, "3"), (37.373, "37")]
)
def test_retry_after_header_is_a_whole_number_of_at_least_one_second(retry_after, header):
    assert RateLimited("slow down", retry_after=retry_after).headers() == {"Retry-After": header}


@pytest.mark.parametrize(
    ("hint", "header"), [(float("inf"), "3600"), (1e300, "3600"), (float("nan"), None), (2.4, "2")]
)
def test_retry_after_stays_a_sane_header(hint, header):
    """A hint parsed from upstream text ("retry in 9999…9 s") must never crash the answer."""
    err = RateLimited("slow down", retry_after=hint)
    assert err.headers().get("Retry-After") == header
