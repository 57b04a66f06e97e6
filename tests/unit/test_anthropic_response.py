"""CLI events -> Anthropic Messages answers: the Message and the stream events, each checked
against openapi.yaml (the Message schema, and MessageStreamEvent per event)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

from cli_bridge.formats.anthropic_messages.response import MessageBuilder
from cli_bridge.formats.anthropic_messages.stream import MessageStreamEncoder
from cli_bridge.formats.tools_common import ToolPlan
from cli_bridge.protocol.client_tools import ClientTool, ToolCall, ToolSet
from cli_bridge.protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    InputJsonDelta,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolCallsPending,
)
from handlers.sse import frame
from handlers.stopping import stopped_result
from tests.contract import SPEC_PATH, Contract

CONTRACT = Contract()
_RAW = yaml.safe_load(SPEC_PATH.read_text())
MESSAGE = OAS30Validator(
    {**_RAW["components"]["schemas"]["Message"], "components": _RAW["components"]}
)
STREAM = CONTRACT.stream_contract("/v1/messages")
TOOLS = ToolSet((ClientTool("get_weather", "", '{"type":"object"}'),))
PLAN = ToolPlan(TOOLS)
USAGE = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}


def result(stop: str | None = "end_turn", **extra: Any) -> Result:
    return Result("success", False, "", USAGE, stop, None, None, [], None, **extra)  # type: ignore[arg-type]


def text(message: str, index: int, value: str) -> list[CliEvent]:
    return [
        BlockStart(message, index, "text"),
        TextDelta(message, index, value),
        AssistantBlock(message, "text", value),
    ]


def tool(message: str, index: int, ident: str, name: str, pieces: list[str]) -> list[CliEvent]:
    return [
        BlockStart(message, index, "tool_use", ident, name),
        *(InputJsonDelta(message, index, p) for p in pieces),
        AssistantBlock(
            message,
            "tool_use",
            "",
            tool_id=ident,
            tool_name=name,
            tool_input=json.loads("".join(pieces)),
        ),
    ]


def collect(events: list[CliEvent], end: Result | ToolCallsPending, **kw: Any) -> dict[str, Any]:
    builder = MessageBuilder("msg_1", "sonnet", **kw)
    for event in events:
        builder.feed(event)
    message = dict(builder.build(end))
    MESSAGE.validate(message)
    return message


def stream(
    events: list[CliEvent], end: Result | ToolCallsPending, **kw: Any
) -> list[dict[str, Any]]:
    encoder = MessageStreamEncoder("msg_1", "sonnet", **kw)
    payloads = [*encoder.opening()]
    for event in events:
        payloads += encoder.feed(event)
    payloads += encoder.finish(end)
    assert encoder.done() is None and encoder.event_names
    assert STREAM is not None
    STREAM.check("".join(frame(p, named=True) for p in payloads))
    return [dict(p) for p in payloads]


def accumulate(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a client rebuilds from the events (the SDK's accumulation, simplified)."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for p in payloads:
        if p["type"] == "content_block_start":
            blocks[p["index"]] = dict(p["content_block"])
        elif p["type"] == "content_block_delta":
            d, i = p["delta"], p["index"]
            if d["type"] == "text_delta":
                blocks[i]["text"] += d["text"]
            elif d["type"] == "input_json_delta":
                partial[i] = partial.get(i, "") + d["partial_json"]
            elif d["type"] == "thinking_delta":
                blocks[i]["thinking"] += d["thinking"]
    for i, text_ in partial.items():
        blocks[i]["input"] = json.loads(text_)
    return [blocks[i] for i in sorted(blocks)]


def test_text_answer_both_ways():
    events = [
        MessageStart("m1", "x", {"input_tokens": 10}),
        *text("m1", 0, "Hello"),
        MessageDelta("m1", "end_turn"),
    ]
    message = collect(events, result())
    assert message["content"] == [{"type": "text", "text": "Hello"}]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert message["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2,
    }
    payloads = stream(events, result())
    kinds = [p["type"] for p in payloads]
    assert kinds == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert payloads[0]["message"]["usage"]["input_tokens"] == 10
    assert accumulate(payloads) == message["content"]


def test_tool_calls_reindexed_across_messages_prefix_stripped_builtins_hidden():
    events = [
        MessageStart("m1", "x"),
        *text("m1", 0, "Checking."),
        *tool("m1", 1, "toolu_a", "mcp__client__get_weather", ['{"city":', '"Paris"}']),
        *tool("m1", 2, "toolu_b", "Bash", ['{"command":"ls"}']),
    ]
    end = ToolCallsPending((ToolCall("toolu_a", "get_weather", '{"city":"Paris"}'),), USAGE)  # type: ignore[arg-type]
    message = collect(events, end, plan=PLAN)
    assert message["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert message["stop_reason"] == "tool_use"
    payloads = stream(events, end, plan=PLAN)
    assert accumulate(payloads) == message["content"]
    assert payloads[-2]["delta"]["stop_reason"] == "tool_use"


def test_pending_calls_not_streamed_arrive_whole_and_one_call_is_one():
    end = ToolCallsPending(
        (
            ToolCall("t1", "get_weather", '{"city":"A"}'),
            ToolCall("t2", "get_weather", '{"city":"B"}'),
        ),
        USAGE,  # type: ignore[arg-type]
    )
    single = ToolPlan(ToolSet(TOOLS.tools, one_call=True), single=True)
    assert [b["id"] for b in collect([], end, plan=PLAN)["content"]] == ["t1", "t2"]
    assert [b["id"] for b in collect([], end, plan=single)["content"]] == ["t1"]
    assert [b["id"] for b in accumulate(stream([], end, plan=single))] == ["t1"]


def test_calls_are_not_surfaced_without_permission():
    events = tool("m1", 0, "toolu_a", "mcp__client__get_weather", ["{}"])
    withheld = ToolPlan(ToolSet(TOOLS.tools, permitted=False))
    assert collect(events, result(), plan=withheld)["content"] == []
    assert accumulate(stream(events, result(), plan=withheld)) == []


def test_forced_tool_is_one_tool_use():
    forced = ToolPlan(None, '{"type":"object"}', "get_weather")
    end = result("tool_use", structured_output={"city": "Oslo"})
    message = collect(text("m1", 0, "prose"), end, plan=forced)
    assert [(b["type"], b["name"], b["input"]) for b in message["content"]] == [
        ("tool_use", "get_weather", {"city": "Oslo"})
    ]
    assert message["stop_reason"] == "tool_use" and message["content"][0]["id"].startswith("toolu_")
    blocks = accumulate(stream(text("m1", 0, "prose"), end, plan=forced))
    assert [(b["name"], b["input"]) for b in blocks] == [("get_weather", {"city": "Oslo"})]


def test_stop_reasons_and_the_stop_sequence():
    assert collect([], stopped_result("a", "stop_sequence", "END"))["stop_sequence"] == "END"
    assert (
        collect([], stopped_result("a", "stop_sequence", "END"))["stop_reason"] == "stop_sequence"
    )
    assert collect([], result("max_tokens"))["stop_reason"] == "max_tokens"
    assert collect([], result(None))["stop_reason"] == "end_turn"
    assert collect([], result("weird"))["stop_reason"] == "end_turn"
    assert collect([MessageDelta("m", "refusal")], result(None))["stop_reason"] == "refusal"
    delta = stream([], stopped_result("a", "stop_sequence", "END"))[-2]
    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_thinking_only_when_asked():
    raw = {"message": {"content": [{"type": "thinking", "thinking": "hm", "signature": "sig"}]}}
    events: list[CliEvent] = [
        MessageStart("m1", "x"),
        BlockStart("m1", 0, "thinking"),
        ThinkingDelta("m1", 0, "hm"),
        AssistantBlock("m1", "thinking", "hm", raw=raw),
        *text("m1", 1, "answer"),
    ]
    assert [b["type"] for b in collect(events, result())["content"]] == ["text"]
    assert [b["type"] for b in accumulate(stream(events, result()))] == ["text"]
    shown = collect(events, result(), thinking=True)["content"]
    assert shown[0] == {"type": "thinking", "thinking": "hm", "signature": "sig"}
    assert [b["type"] for b in accumulate(stream(events, result(), thinking=True))] == [
        "thinking",
        "text",
    ]


def test_text_of_several_messages_and_the_non_streaming_fallback():
    events = [*text("m1", 0, "one"), AssistantBlock("m2", "text", "two")]
    assert collect(events, result())["content"] == [{"type": "text", "text": "one\n\ntwo"}]
    assert accumulate(stream(events, result())) == [{"type": "text", "text": "one\n\ntwo"}]


def test_error_event_is_the_envelope():
    encoder = MessageStreamEncoder("msg_1", "sonnet")
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert encoder.error(body) == [body]
    assert STREAM is not None
    STREAM.check(frame(body, named=True))
