"""The fake upstream refuses malformed tool history exactly as the real Messages API does, so
no test can pass on a history the real API would refuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.fake_anthropic import FakeAnthropic
from conformance.fake_replies import fake_directive

TOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]
USE = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def post(fake: FakeAnthropic, messages: list[Any], **body: Any) -> httpx.Response:
    payload = {"model": "claude-x", "max_tokens": 10, "messages": messages, **body}
    return httpx.post(f"{fake.url}/v1/messages?beta=true", json=payload, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("messages", "tools", "text"),
    [
        (
            [{"role": "user", "content": "hi"}, USE, RESULT],
            [],
            "Requests which include tool_use or tool_result blocks must define tools.",
        ),
        (
            [{"role": "user", "content": "hi"}, USE, {"role": "user", "content": "next"}],
            TOOLS,
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message.",
        ),
        (
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}, RESULT],
            TOOLS,
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
            "toolu_1. Each `tool_result` block must have a corresponding `tool_use` block in "
            "the previous message.",
        ),
    ],
)
def test_fake_refuses_broken_tool_history(
    fake: FakeAnthropic, messages: list[Any], tools: list[Any], text: str, stream: bool
) -> None:
    fake.reset()
    # Scripted behaviour never overrides the rules: the real API checks before anything else.
    fake.control(reply="scripted", status=529)
    got = post(fake, messages, tools=tools, stream=stream)
    assert got.status_code == 400
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": text},
    }
    (entry,) = fake.requests
    assert (entry["status"], entry["outcome"]) == (400, "invalid_history")


def test_fake_accepts_well_formed_tool_history(fake: FakeAnthropic) -> None:
    fake.reset()
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": []},
        USE,
        RESULT,
        {"role": "assistant", "content": "sunny"},
        {"role": "user", "content": "thanks " + fake_directive(reply="welcome")},
    ]
    got = post(fake, messages, tools=TOOLS)
    assert got.status_code == 200
    assert got.json()["content"] == [{"type": "text", "text": "welcome"}]
    assert fake.requests[0]["outcome"] == "ok"
