"""The fake upstream's scripted agent loop (`tool_plan`): which step it answers from the history
alone, name matching against the offered tools, the final text, and the same over HTTP
(streaming and not) with hand-built conversations, no CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.fake_anthropic import FakeAnthropic
from conformance.fake_replies import fake_directive
from conformance.fake_tools import (
    PlanError,
    find_directive,
    own_text,
    plan_settings,
    plan_step,
    resolve_name,
    rounds_done,
    tool_results,
)

WEATHER = {"name": "get_weather", "input": {"city": "Paris"}}
TIME = {"name": "get_time", "input": {"city": "Paris"}}
PLAN = [[WEATHER], [TIME]]
TOOLS = [
    {"name": "Read", "input_schema": {"type": "object"}},
    {"name": "mcp__client__get_weather", "input_schema": {"type": "object"}},
    {"name": "mcp__client__get_time", "input_schema": {"type": "object"}},
]
REMINDER = {"type": "text", "text": "<system-reminder>x <<fake:{}>></system-reminder>"}


def use(*ids: str) -> dict[str, Any]:
    blocks = [{"type": "tool_use", "id": i, "name": "mcp__client__x", "input": {}} for i in ids]
    return {"role": "assistant", "content": blocks}


def result(tool_id: str, text: str, as_list: bool = True) -> dict[str, Any]:
    content: Any = [{"type": "text", "text": text}] if as_list else text
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": content}
    return {"role": "user", "content": [block]}


def prompt(**directive: Any) -> dict[str, Any]:
    text = "Weather and time in Paris? " + fake_directive(**directive)
    return {"role": "user", "content": [REMINDER, {"type": "text", "text": text}]}


# --- pure functions ------------------------------------------------------------------------


def test_directive_in_last_user_message_wins() -> None:
    messages = [prompt(tool_plan=PLAN), use("a"), result("a", "r"), prompt(reply="hi")]
    found = find_directive(messages)
    assert (found.index, found.settings()) == (3, {"reply": "hi"})


def test_plan_directive_found_before_tool_results() -> None:
    messages = [prompt(reply="old"), {"role": "assistant", "content": "ok"}]
    messages += [prompt(tool_plan=PLAN), use("a"), result("a", "sunny")]
    found = find_directive(messages)
    assert found.index == 2
    assert found.settings() == {"tool_plan": PLAN}


def test_directive_echoed_by_a_tool_is_not_a_plan() -> None:
    echoed = "<<fake:" + json.dumps({"tool_plan": PLAN}) + ">>"
    messages = [{"role": "user", "content": "hi"}, use("a"), result("a", echoed)]
    messages[2]["content"].append({"type": "text", "text": "and then"})
    messages += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "tail"}]
    assert own_text(messages[2]) == "and then"
    assert find_directive(messages).raw is None


def test_no_directive() -> None:
    assert find_directive([]).settings() == {}
    assert find_directive([{"role": "user", "content": "plain"}]).index is None


def test_bad_directive_in_last_message_is_reported() -> None:
    found = find_directive([{"role": "user", "content": "<<fake:{oops}>>"}])
    assert found.raw == "{oops}"
    assert found.settings() is None


def test_rounds_counted_after_the_directive_message_only() -> None:
    messages = [prompt(reply="a"), use("x"), result("x", "1"), prompt(tool_plan=PLAN)]
    assert rounds_done(messages, 3) == 0
    messages += [use("y", "z"), result("y", "2")]
    assert rounds_done(messages, 3) == 1
    assert rounds_done(messages, 0) == 2


def test_resolve_name() -> None:
    offered = ["Read", "mcp__client__get_weather", "get_time"]
    assert resolve_name("get_weather", offered) == "mcp__client__get_weather"
    assert resolve_name("mcp__client__get_weather", offered) == "mcp__client__get_weather"
    assert resolve_name("get_time", offered) == "get_time"
    assert resolve_name("weather", offered) is None
    assert resolve_name("nope", offered) is None


def test_tool_results_in_order_string_or_blocks() -> None:
    messages = [prompt(), use("a", "b"), result("a", "one")]
    messages[2]["content"].append(result("b", "two", as_list=False)["content"][0])
    messages += [use("c"), result("c", "three")]
    assert tool_results(messages) == ["one", "two", "three"]


def test_plan_steps_then_final() -> None:
    messages: list[Any] = [prompt(tool_plan=PLAN)]
    step = plan_step(PLAN, messages, 0, TOOLS)
    assert (step.round, step.final) == (0, None)
    assert step.calls == [{"name": "mcp__client__get_weather", "input": {"city": "Paris"}}]
    messages += [use("a"), result("a", "sunny 21C in Paris")]
    step = plan_step(PLAN, messages, 0, TOOLS)
    assert [c["name"] for c in step.calls] == ["mcp__client__get_time"]
    assert step.log() == {"round": 1, "steps": 2, "calls": ["mcp__client__get_time"]}
    messages += [use("b"), result("b", "12:00 in Paris")]
    step = plan_step(PLAN, messages, 0, TOOLS)
    assert step.final == "final: sunny 21C in Paris | 12:00 in Paris"
    assert step.log() == {"round": 2, "steps": 2, "calls": None}


def test_plan_settings_make_one_message_of_parallel_calls() -> None:
    step = plan_step([[WEATHER, TIME]], [prompt()], 0, TOOLS)
    s = plan_settings({"tool_text": "Let me look.", "reply": "x", "blocks": None}, step)
    assert s["blocks"] == ["Let me look."]
    assert [c["name"] for c in s["tool_use"]] == [
        "mcp__client__get_weather",
        "mcp__client__get_time",
    ]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([[{"name": "get_news", "input": {}}]], "fake: tool get_news not offered"),
        ([{"name": "get_weather"}], "fake: bad tool_plan"),
        ([[]], "fake: bad tool_plan"),
        ("get_weather", "fake: bad tool_plan"),
        ([[{"name": "get_weather", "input": []}]], "fake: bad tool_plan"),
    ],
)
def test_bad_plans(plan: Any, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_step(plan, [prompt()], 0, TOOLS)


# --- over HTTP -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def sse_message(text: str) -> dict[str, Any]:
    """Rebuild the message from SSE events as an SDK does, checking tool inputs come in pieces."""
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    message: dict[str, Any] = events[0]["message"]
    partial: dict[int, list[str]] = {}
    for event in events[1:]:
        if event["type"] == "content_block_start":
            message["content"].append(event["content_block"])
            if event["content_block"]["type"] == "tool_use":
                assert event["content_block"]["input"] == {}
                partial[event["index"]] = []
        elif event["type"] == "content_block_delta":
            delta, block = event["delta"], message["content"][event["index"]]
            if delta["type"] == "input_json_delta":
                partial[event["index"]].append(delta["partial_json"])
            else:
                block["text"] += delta["text"]
        elif event["type"] == "message_delta":
            message["stop_reason"] = event["delta"]["stop_reason"]
    for index, pieces in partial.items():
        assert len(pieces) > 1, "a tool's input streams in several input_json_delta pieces"
        message["content"][index]["input"] = json.loads("".join(pieces))
    return message


def ask(fake: FakeAnthropic, messages: list[Any], stream: bool) -> httpx.Response:
    body = {"model": "claude-x", "max_tokens": 10, "messages": messages, "tools": TOOLS}
    return httpx.post(f"{fake.url}/v1/messages", json={**body, "stream": stream}, timeout=10)


def answer(fake: FakeAnthropic, messages: list[Any], stream: bool) -> dict[str, Any]:
    got = ask(fake, messages, stream)
    assert got.status_code == 200, got.text
    return sse_message(got.text) if stream else got.json()  # type: ignore[no-any-return]


def echo(message: dict[str, Any], results: list[str]) -> list[dict[str, Any]]:
    """The assistant message as sent back, and the user message of its tool results."""
    ids = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
    blocks = [
        {"type": "tool_result", "tool_use_id": i, "content": [{"type": "text", "text": r}]}
        for i, r in zip(ids, results, strict=True)
    ]
    return [
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": blocks},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_plan_over_http_step_by_step(fake: FakeAnthropic, stream: bool) -> None:
    fake.reset()
    messages = [prompt(tool_plan=PLAN)]
    first = answer(fake, messages, stream)
    assert first["stop_reason"] == "tool_use"
    (call,) = first["content"]
    assert call["type"] == "tool_use"
    assert call["id"].startswith("toolu_fake_")
    assert (call["name"], call["input"]) == ("mcp__client__get_weather", {"city": "Paris"})
    messages += echo(first, ["sunny 21C in Paris"])
    second = answer(fake, messages, stream)
    assert [(b["name"], b["input"]) for b in second["content"]] == [
        ("mcp__client__get_time", {"city": "Paris"})
    ]
    messages += echo(second, ["12:00 in Paris"])
    final = answer(fake, messages, stream)
    assert final["stop_reason"] == "end_turn"
    assert final["content"] == [
        {"type": "text", "text": "final: sunny 21C in Paris | 12:00 in Paris"}
    ]
    steps = [r["plan_step"] for r in fake.requests]
    assert steps == [
        {"round": 0, "steps": 2, "calls": ["mcp__client__get_weather"]},
        {"round": 1, "steps": 2, "calls": ["mcp__client__get_time"]},
        {"round": 2, "steps": 2, "calls": None},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_step_with_text(fake: FakeAnthropic, stream: bool) -> None:
    messages = [prompt(tool_plan=[[WEATHER, TIME]], tool_text="Checking both.")]
    first = answer(fake, messages, stream)
    assert first["stop_reason"] == "tool_use"
    kinds = [(b["type"], b.get("name") or b.get("text")) for b in first["content"]]
    assert kinds == [
        ("text", "Checking both."),
        ("tool_use", "mcp__client__get_weather"),
        ("tool_use", "mcp__client__get_time"),
    ]
    ids = {b["id"] for b in first["content"] if b["type"] == "tool_use"}
    assert len(ids) == 2
    messages += echo(first, ["sunny", "noon"])
    final = answer(fake, messages, stream)
    assert final["content"] == [{"type": "text", "text": "final: sunny | noon"}]


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_tool_is_refused(fake: FakeAnthropic, stream: bool) -> None:
    fake.reset()
    got = ask(fake, [prompt(tool_plan=[[{"name": "get_news", "input": {}}]])], stream)
    assert got.status_code == 400
    assert got.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "fake: tool get_news not offered"},
    }
    assert fake.requests[0]["outcome"] == "bad_plan"
