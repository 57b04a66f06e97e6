"""Every recorded transcript, replayed through `/v1/messages` (stream and not), gives the
Anthropic output stored in tests/snapshots/messages/, and that output conforms to
openapi.yaml (each body through openapi-core, each SSE payload against `MessageStreamEvent`).
The chat twin is test_replay_snapshots.py, the Responses one test_replay_responses.py;
`UPDATE_SNAPSHOTS=1` rewrites these the same way.

No recorded scenario calls a client tool, so the tool case is a forced `tool_choice` (the
replay CLI answers the schema with its simplest object, as test_replay_structured.py
shows). The `tool_result` follow-up cannot be replayed: any request with tool history
offers the client's tools over MCP, which the replay CLI never lists, so the proxy waits for
them and fails (502). That half of the round trip is covered against the real CLI
(tests/e2e/test_messages.py). A refused request (a `document` block) is the error case the
CLI never sees; the upstream errors are the recorded `error_*` and `hang` scenarios.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_bridge.replay.transcripts import scenario_names, transcripts_dir
from tests.conftest import RunningProxy, wait_no_cli_children
from tests.contract import Contract

PATH = "/v1/messages"
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "messages"
SCENARIOS = scenario_names(transcripts_dir())
EXTRA = ("forced_tool_use", "invalid_request", "thinking_enabled")
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
ID = re.compile(r"^(msg|toolu)_[0-9a-f]{24}$")

# (status without stream, and the message's stop_reason, or Anthropic's error type)
EXPECTED = {
    "plain": (200, "end_turn"),
    "multi_block": (200, "end_turn"),
    "long_output": (200, "end_turn"),
    "system_prompt": (200, "end_turn"),
    "cache_usage": (200, "end_turn"),
    "thinking": (200, "end_turn"),
    "overloaded_mid_stream": (200, "end_turn"),
    "error_401": (401, "authentication_error"),
    "error_429": (429, "rate_limit_error"),
    "error_500": (503, "api_error"),  # retried by the proxy first (retry.py)
    "error_529": (529, "overloaded_error"),
    "hang": (504, "timeout_error"),
    "resumed_history": (200, "end_turn"),
}

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def normalise(payload: Any) -> Any:
    """Drop what differs per request: message and tool_use ids."""
    if isinstance(payload, dict):
        return {key: normalise(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [normalise(v) for v in payload]
    if isinstance(payload, str) and ID.match(payload):
        return payload.split("_")[0] + "_<id>"
    return payload


def post(proxy: RunningProxy, body: dict[str, Any]) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01"}
    return httpx.post(f"{proxy.url}{PATH}", json=body, headers=headers, timeout=60)


def entry_of(r: httpx.Response, contract: Contract) -> dict[str, Any]:
    """Status, Retry-After, and the body or the SSE payloads, each validated against the spec."""
    entry: dict[str, Any] = {"status": r.status_code}
    if "retry-after" in r.headers:
        entry["retry_after"] = r.headers["retry-after"]
    if r.headers["content-type"].startswith("text/event-stream"):
        entry["events"] = normalise(contract.check_sse(r.text, PATH))
    else:
        contract.check(r)
        entry["body"] = normalise(r.json())
    return entry


def both(proxy: RunningProxy, body: dict[str, Any], contract: Contract) -> dict[str, Any]:
    return {
        "stream" if stream else "non_stream": entry_of(
            post(proxy, {**body, "stream": stream}), contract
        )
        for stream in (False, True)
    }


def request(scenario: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "opus",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": f"Hello [[replay:{scenario}]]"}],
        **extra,
    }


def assembled(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message a client builds from a stream: message_start's, the blocks, message_delta."""
    message = dict(events[0]["message"])
    blocks: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "content_block_start":
            assert event["index"] == len(blocks), "blocks are numbered 0, 1, 2, ..."
            blocks.append(dict(event["content_block"]))
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                block["_json"] = block.get("_json", "") + delta["partial_json"]
        elif event["type"] == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message["usage"], **event["usage"]}
    for block in blocks:
        if "_json" in block:
            block["input"] = json.loads(block.pop("_json"))
        if block["type"] == "thinking":
            block.pop("signature", None)  # streamed blocks carry an empty one
    message["content"] = blocks
    return message


def check_same(result: dict[str, Any]) -> None:
    body = result["non_stream"]["body"]
    events = result["stream"]["events"]
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "ping"] and kinds[-2:] == [
        "message_delta",
        "message_stop",
    ]
    streamed = assembled(events)
    assert streamed["content"] == [
        {k: v for k, v in b.items() if k != "signature"} for b in body["content"]
    ], "stream and non-stream must say the same"
    assert streamed["stop_reason"] == body["stop_reason"]
    assert streamed["usage"] == body["usage"]


def matches_snapshot(name: str, result: dict[str, Any]) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot messages/{path.name} was missing and has been written")
    assert json.loads(path.read_text(encoding="utf-8")) == result, (
        f"replaying {name} no longer gives tests/snapshots/messages/{name}.json "
        "(UPDATE_SNAPSHOTS=1 rewrites it after an intended change)"
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replayed_transcript_matches_messages_snapshot(
    scenario: str, replay_proxy: RunningProxy, contract: Contract
):
    result = both(replay_proxy, request(scenario), contract)
    status, outcome = EXPECTED[scenario]
    assert result["non_stream"]["status"] == status
    if status == 200:
        assert result["non_stream"]["body"]["stop_reason"] == outcome
        check_same(result)
    else:
        assert result["non_stream"]["body"]["error"]["type"] == outcome
        stream = result["stream"]
        if "body" in stream:
            assert stream["status"] == status and stream["body"]["error"]["type"] == outcome
        else:
            assert stream["events"][-1]["type"] == "error"
            assert stream["events"][-1]["error"]["type"] == outcome
    assert wait_no_cli_children() == []
    matches_snapshot(scenario, result)


def test_replayed_thinking_when_asked(replay_proxy: RunningProxy, contract: Contract):
    """With `thinking` enabled the recorded thinking block comes out (`thinking_delta`s when
    streamed), before the text; without it (the `thinking` snapshot) it is left out."""
    asked = request("thinking", thinking={"type": "enabled", "budget_tokens": 1024})
    result = both(replay_proxy, asked, contract)
    check_same(result)
    content = result["non_stream"]["body"]["content"]
    assert [b["type"] for b in content] == ["thinking", "text"] and content[0]["thinking"]
    events = result["stream"]["events"]
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert "thinking_delta" in deltas
    matches_snapshot("thinking_enabled", result)


def test_replayed_forced_tool_use(replay_proxy: RunningProxy, contract: Contract):
    """A forced tool answers one `tool_use` block (the replay CLI's simplest object for the
    schema) with `stop_reason: tool_use`, streamed as an `input_json_delta`."""
    forced = request(
        "plain", tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_weather"}
    )
    result = both(replay_proxy, forced, contract)
    check_same(result)
    message = result["non_stream"]["body"]
    assert message["stop_reason"] == "tool_use"
    assert [(b["type"], b["name"], b["input"]) for b in message["content"]] == [
        ("tool_use", "get_weather", {"city": ""})
    ]
    assert wait_no_cli_children() == []
    matches_snapshot("forced_tool_use", result)


def test_refused_request_is_anthropics_400(replay_proxy: RunningProxy, contract: Contract):
    """Refused before any CLI turn: the same 400 `invalid_request_error`, stream or not."""
    body = request("plain")
    body["messages"][0]["content"] = [{"type": "document", "source": {}}]
    result = both(replay_proxy, body, contract)
    for entry in result.values():
        assert entry["status"] == 400
        assert entry["body"]["type"] == "error"
        assert entry["body"]["error"]["type"] == "invalid_request_error"
        assert entry["body"]["error"]["message"].startswith("messages.0.content.0.type")
    matches_snapshot("invalid_request", result)


def test_every_scenario_has_a_messages_expectation():
    assert set(SCENARIOS) == set(EXPECTED)
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == set(SCENARIOS) | set(EXTRA)
