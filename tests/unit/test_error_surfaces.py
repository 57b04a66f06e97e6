"""Errors answered in the envelope of the surface the request is for, chosen by path: also for
requests refused by a middleware before any route (the `/v1/messages` route does not exist
yet, so these tests prove the guards choose by path). In-process: the app is called through
starlette's TestClient without its lifespan, so no CLI is ever started."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cli_bridge.errors import (
    CliFailed,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProxyError,
    RateLimited,
    Timeout,
)
from handlers.app import create_app
from handlers.config.settings import Settings
from handlers.errors import (
    BodyTooLarge,
    InvalidApiKey,
    anthropic_body,
    error_body,
    openai_body,
    surface_for_path,
)

KEY = "sk-test-0123456789abcdef"
OPENAI_KEYS = {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/v1/messages", "anthropic"),
        ("/v1/messages/count_tokens", "anthropic"),
        ("/v1/messagesX", "openai"),
        ("/v1/chat/completions", "openai"),
        ("/v1/responses", "openai"),
        ("/v1/models", "openai"),
        ("/", "openai"),
    ],
)
def test_the_surface_is_chosen_by_path(path, surface):
    assert surface_for_path(path) == surface


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (InvalidRequest("x"), "invalid_request_error"),
        (InvalidApiKey("x"), "authentication_error"),
        (ModelNotFound("x"), "not_found_error"),
        (BodyTooLarge("x"), "request_too_large"),
        (RateLimited("x"), "rate_limit_error"),
        (Overloaded("x"), "overloaded_error"),
        (Timeout("x"), "timeout_error"),
        (CliFailed("x"), "api_error"),
        (ProxyError("x"), "api_error"),
    ],
)
def test_anthropic_error_types(error, kind):
    assert anthropic_body(error) == {"type": "error", "error": {"type": kind, "message": "x"}}
    assert error_body(error, "/v1/messages") == anthropic_body(error)
    assert error_body(error, "/v1/chat/completions") == openai_body(error)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(
        api_keys=(KEY,),
        allowed_hosts=("testserver",),
        max_body_bytes=64,
        runtime_dir=tmp_path / "runtime",
        claude_bin=str(tmp_path / "no-such-cli"),
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def assert_anthropic(response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind and body["error"]["message"]


def assert_openai(response, status: int, code: str | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == OPENAI_KEYS
    assert body["error"]["code"] == code


def test_a_missing_key_is_refused_per_surface(client):
    anthropic = client.post("/v1/messages", json={})
    assert_anthropic(anthropic, 401, "authentication_error")
    assert anthropic.headers["www-authenticate"] == "Bearer"
    assert_openai(client.post("/v1/chat/completions", json={}), 401, "invalid_api_key")


def test_a_foreign_host_is_refused_per_surface(client):
    headers = {"host": "evil.example"}
    assert_anthropic(client.post("/v1/messages", headers=headers), 400, "invalid_request_error")
    assert_openai(client.post("/v1/responses", headers=headers), 400, "invalid_host")


def test_a_too_large_body_is_refused_per_surface(client):
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    big = b'{"x": "' + b"a" * 200 + b'"}'
    assert_anthropic(
        client.post("/v1/messages", content=big, headers=headers), 413, "request_too_large"
    )
    assert_openai(
        client.post("/v1/chat/completions", content=big, headers=headers),
        413,
        "request_too_large",
    )


def test_an_unknown_route_under_messages_is_an_anthropic_404(client):
    headers = {"authorization": f"Bearer {KEY}"}
    unknown = client.post("/v1/messages/nothing", json={}, headers=headers)
    assert_anthropic(unknown, 404, "not_found_error")
    assert_openai(client.post("/v1/nothing", json={}, headers=headers), 404, None)
