"""POST /v1/messages in process (replay CLI): the anthropic SDK's create and stream, what
Anthropic clients send (version and beta headers, `?beta=true`, `x-api-key`, metadata,
thinking, role "system" entries), 400s before any CLI, and guards' refusals in Anthropic's
envelope. Every response is validated against openapi.yaml by the contract guard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic
import pytest

from handlers.config.settings import Settings
from tests.inproc.conftest import BASE_URL, InProcessProxy, assert_no_cli, in_process, turns_with

KEY = "sk-proxy-messages-0123456789"
HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219"}


def body(marker: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "sonnet",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"hello {marker}"}],
        **extra,
    }


def sdk(app: InProcessProxy, key: str = "sk-x") -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=BASE_URL, api_key=key, max_retries=0, http_client=app.client
    )


@pytest.fixture(scope="module")
def keyed(app_settings: Settings) -> Iterator[InProcessProxy]:
    with in_process(replace(app_settings, api_keys=(KEY,), max_messages=3)) as running:
        yield running


def test_sdk_create_and_stream(app: InProcessProxy, marker: str):
    client = sdk(app)
    message = client.messages.create(
        model="sonnet", max_tokens=64, messages=[{"role": "user", "content": f"hi {marker}"}]
    )
    assert message.content[0].type == "text" and marker in message.content[0].text
    with client.messages.stream(
        model="sonnet", max_tokens=64, messages=[{"role": "user", "content": f"s {marker}"}]
    ) as stream:
        assert marker in "".join(stream.text_stream)


def test_what_claude_code_sends_is_tolerated(app: InProcessProxy, replay_log: Path, marker: str):
    sent = body(
        marker,
        system=[
            {"type": "text", "text": "x-anthropic-billing-header: cc"},
            {
                "type": "text",
                "text": "You are Claude Code.",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        metadata={"user_id": "user_abc"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        temperature=1,
        context_management={"edits": []},
        stream=True,
    )
    sent["messages"] = [
        {"role": "system", "content": "per-turn control"},
        *sent["messages"],
    ]
    r = app.client.post("/v1/messages?beta=true", json=sent, headers=HEADERS)
    assert r.status_code == 200, r.text
    assert r.text.startswith("event: message_start\n")
    assert "event: message_stop" in r.text
    (turn,) = turns_with(replay_log, marker)
    assert "You are Claude Code." in str(turn) and "per-turn control" in str(turn)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages.0.content.0.type",
        ),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools.0.type"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"output_format": {"type": "json_schema", "schema": {}}}, "output_format"),
    ],
)
def test_bad_requests_are_400_before_any_cli(
    app: InProcessProxy, replay_log: Path, marker: str, extra: dict[str, Any], param: str
):
    r = app.client.post("/v1/messages", json=body(marker, **extra))
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(param)
    assert_no_cli(replay_log, marker)


def test_missing_max_tokens_is_the_apis_400(app: InProcessProxy, marker: str):
    sent = body(marker)
    del sent["max_tokens"]
    r = app.client.post("/v1/messages", json=sent)
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


def test_unknown_model_is_404_not_found_error(app: InProcessProxy, marker: str):
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk(app).messages.create(
            model="gpt-9", max_tokens=5, messages=[{"role": "user", "content": marker}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_count_tokens_is_501(app: InProcessProxy):
    r = app.client.post("/v1/messages/count_tokens?beta=true", json=body("x"), headers=HEADERS)
    assert r.status_code == 501
    assert r.json()["error"]["type"] == "api_error"


def test_x_api_key_is_the_proxys_key_and_refusals_are_anthropics(
    keyed: InProcessProxy, replay_log: Path, marker: str
):
    r = keyed.client.post("/v1/messages", json=body(marker), headers={"x-api-key": KEY})
    assert r.status_code == 200, r.text
    wrong = keyed.client.post("/v1/messages", json=body(marker), headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        sdk(keyed, "nope").messages.create(**body(marker))
    assert sdk(keyed, KEY).messages.create(**body(marker)).stop_reason == "end_turn"
    many = body(marker, messages=[{"role": "user", "content": "a"}] * 4)
    too_many = keyed.client.post("/v1/messages", json=many, headers={"x-api-key": KEY})
    assert too_many.status_code == 400
    assert too_many.json()["type"] == "error"
    unknown = keyed.client.post("/v1/messages/nope", json={}, headers={"x-api-key": KEY})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"
