"""Client tools over HTTP, in-process: the request schema lets OpenAI's shapes through and
each unusable `tools` / `tool_choice` / `response_format` combination is a 400 naming its
parameter, before any CLI starts (the conversions themselves: tests/unit/test_chat_tools.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from starlette.testclient import TestClient

from tests.contract import Contract
from tests.e2e.guards_util import chat_body, refused
from tests.inproc.conftest import InProcessProxy, assert_no_cli

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools.0.type"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools.0.function.name"),
        ({"tools": [WEATHER, WEATHER]}, "tools.1.function.name"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
                ]
            },
            "tools.0.function.parameters",
        ),
        ({"tool_choice": "auto"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        (
            {
                "tools": [WEATHER],
                "tool_choice": {
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "auto", "tools": []},
                },
            },
            "tool_choice",
        ),
        ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_unusable_tool_requests_are_a_400(
    client: TestClient, contract: Contract, replay_log: Path, marker: str, extra: Any, param: str
):
    r = client.post("/v1/chat/completions", json=chat_body(marker, **extra))
    assert refused(contract, r, 400)["param"] == param
    assert_no_cli(replay_log, marker)


def test_a_tool_history_the_upstream_would_refuse_is_a_400(
    client: TestClient, contract: Contract, replay_log: Path, marker: str
):
    body = chat_body(marker, tools=[WEATHER])
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "user", "content": "never answered"},
    ]
    r = client.post("/v1/chat/completions", json=body)
    error = refused(contract, r, 400)
    assert error["param"] == "messages.1.tool_calls"  # OpenAI's own rule comes first
    assert_no_cli(replay_log, marker)


def test_the_sdk_sees_the_param(app: InProcessProxy, marker: str):
    bad = {"type": "function", "function": {"name": "x" * 52}}
    with pytest.raises(openai.BadRequestError) as info:
        app.sdk().chat.completions.create(
            model="opus", messages=[{"role": "user", "content": marker}], tools=[bad]
        )
    assert info.value.body["param"] == "tools.0.function.name"  # type: ignore[index]


def test_a_forced_function_is_answered_as_one_call_of_it(client: TestClient, contract: Contract):
    # Structured output with the function's parameters (the replay CLI answers a valid object).
    named = {"type": "function", "function": {"name": "get_weather"}}
    body = {"model": "opus", "messages": [{"role": "user", "content": "hi"}]}
    r = client.post("/v1/chat/completions", json={**body, "tools": [WEATHER], "tool_choice": named})
    contract.check(r)
    (choice,) = r.json()["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"]), dict)
    streamed = {**body, "stream": True, "tools": [WEATHER], "tool_choice": named}
    r = client.post("/v1/chat/completions", json=streamed)
    chunks = contract.check_sse(r.text)
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [d["function"]["name"] for d in deltas] == ["get_weather"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
