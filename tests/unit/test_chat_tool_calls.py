"""Client tool calls in chat answers: `message.tool_calls` and streamed `delta.tool_calls`,
built from CLI events and ToolCallsPending, each object checked against openapi.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli_bridge.formats.openai_chat.response import (
    ChunkBuilder,
    CompletionBuilder,
    TurnEnd,
    usage_from_result,
)
from cli_bridge.formats.openai_chat.tools import ToolPlan
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
    ToolCallsPending,
    event_from_dict,
)
from tests.contract import Contract

CID, CREATED, MODEL = "chatcmpl-tools", 1_700_000_000, "claude-opus-4"
TOOLS = ToolSet((ClientTool("get_weather", "", '{"type":"object"}'),))
PLAN = ToolPlan(TOOLS)
USAGE = {"input_tokens": 10, "output_tokens": 5}
CONTRACT = Contract()


def text_block(message: str, index: int, text: str) -> list[CliEvent]:
    return [
        BlockStart(message, index, "text"),
        TextDelta(message, index, text),
        AssistantBlock(message, "text", text),
    ]


def tool_block(
    message: str, index: int, ident: str, name: str, pieces: list[str]
) -> list[CliEvent]:
    arguments = json.loads("".join(pieces))
    return [
        BlockStart(message, index, "tool_use", ident, name),
        *(InputJsonDelta(message, index, piece) for piece in pieces),
        AssistantBlock(
            message, "tool_use", "", tool_id=ident, tool_name=name, tool_input=arguments
        ),
    ]


def paris_block(message: str) -> AssistantBlock:
    """The whole block of a get_weather(Paris) call, as the CLI prints it."""
    name = "mcp__client__get_weather"
    args = {"city": "Paris"}
    return AssistantBlock(
        message, "tool_use", "", tool_id="toolu_1", tool_name=name, tool_input=args
    )


def answer(*blocks: list[CliEvent], message: str = "msg_1") -> list[CliEvent]:
    body = [event for block in blocks for event in block]
    return [MessageStart(message, MODEL, USAGE), *body, MessageDelta(message, "tool_use", USAGE)]


PARIS = ['{"city": ', '"Paris"}']
ROME = ['{"city"', ': "Rome"}']


def pending(*calls: tuple[str, str, str]) -> ToolCallsPending:
    return ToolCallsPending(tuple(ToolCall(*c) for c in calls), USAGE)


PENDING_BOTH = pending(
    ("toolu_1", "get_weather", '{"city": "Paris"}'), ("toolu_2", "get_weather", '{"city": "Rome"}')
)


def complete(events: list[CliEvent], end: TurnEnd, plan: ToolPlan = PLAN, **kw: Any) -> dict:
    builder = CompletionBuilder(CID, CREATED, MODEL, plan=plan, **kw)
    for event in events:
        builder.feed(event)
    body = builder.build(end)
    CONTRACT.check_completion(body)
    return body


def stream(events: list[CliEvent], end: TurnEnd, plan: ToolPlan = PLAN, **kw: Any) -> list:
    builder = ChunkBuilder(CID, CREATED, MODEL, plan=plan, **kw)
    chunks = [builder.first()]
    for event in events:
        chunks += builder.feed(event)
    chunks += builder.finish(end)
    for chunk in chunks:
        CONTRACT.check_chunk(chunk)
    return chunks


def tool_deltas(chunks: list) -> list[dict]:
    return [
        d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls", [])
    ]


def assembled(chunks: list) -> list[dict]:
    """The calls a client's accumulator (as the openai SDK's) makes of the deltas."""
    calls: dict[int, dict] = {}
    for delta in tool_deltas(chunks):
        call = calls.setdefault(delta["index"], {"function": {"name": "", "arguments": ""}})
        for field in ("id", "type"):
            if field in delta:
                assert field not in call, "id and type come once per call"
                call[field] = delta[field]
        fn = delta.get("function", {})
        call["function"]["name"] += fn.get("name", "")
        call["function"]["arguments"] += fn.get("arguments", "")
    return [calls[k] for k in sorted(calls)]


def weather_call(ident: str, city: str) -> dict:
    arguments = json.dumps({"city": city})
    return {
        "id": ident,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


# --- non-streaming ---------------------------------------------------------------------------


def test_one_call_without_text():
    events = answer(tool_block("msg_1", 0, "toolu_1", "mcp__client__get_weather", PARIS))
    body = complete(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [weather_call("toolu_1", "Paris")]
    assert body["usage"] == usage_from_result(USAGE)


def test_text_before_several_calls():
    events = answer(
        text_block("msg_1", 0, "Let me check."),
        tool_block("msg_1", 1, "toolu_1", "mcp__client__get_weather", PARIS),
        tool_block("msg_1", 2, "toolu_2", "mcp__client__get_weather", ROME),
    )
    message = complete(events, PENDING_BOTH)["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["tool_calls"] == [
        weather_call("toolu_1", "Paris"),
        weather_call("toolu_2", "Rome"),
    ]


def test_a_tool_that_is_not_the_clients_is_never_surfaced():
    events = answer(
        tool_block("msg_1", 0, "toolu_0", "Read", ['{"file_path": "/x"}']),
        tool_block("msg_1", 1, "toolu_s", "StructuredOutput", ["{}"]),
        tool_block("msg_1", 2, "toolu_1", "mcp__client__get_weather", PARIS),
    )
    calls = complete(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert [c["id"] for c in calls["choices"][0]["message"]["tool_calls"]] == ["toolu_1"]


def test_parallel_false_surfaces_the_first_call_only():
    events = answer(
        tool_block("msg_1", 0, "toolu_1", "mcp__client__get_weather", PARIS),
        tool_block("msg_1", 1, "toolu_2", "mcp__client__get_weather", ROME),
    )
    single = ToolPlan(TOOLS, single=True)
    message = complete(events, PENDING_BOTH, single)["choices"][0]["message"]
    assert message["tool_calls"] == [weather_call("toolu_1", "Paris")]


def test_calls_only_in_tool_calls_pending_are_surfaced_from_it():
    body = complete([MessageStart("msg_1", MODEL)], PENDING_BOTH)
    assert [c["id"] for c in body["choices"][0]["message"]["tool_calls"]] == ["toolu_1", "toolu_2"]


def test_an_answer_ending_with_a_result_has_no_tool_calls():
    result = event_from_dict(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "usage": USAGE,
            "stop_reason": "end_turn",
            "result": "It is sunny.",
        }
    )
    assert isinstance(result, Result)
    # Calls refused by the CLI (tool_choice none with a tool history) are not surfaced.
    refused = ToolPlan(ToolSet(TOOLS.tools, permitted=False))
    events = [
        *answer(tool_block("msg_1", 0, "toolu_1", "mcp__client__get_weather", PARIS)),
        *text_block("msg_2", 0, "It is sunny."),
    ]
    for plan in (PLAN, refused):
        message = complete(events, result, plan)["choices"][0]["message"]
        assert message["content"] == "It is sunny."
        assert "tool_calls" not in message
    chunks = stream(events, result, refused)
    assert tool_deltas(chunks) == []


def test_a_forced_function_is_one_call_of_the_structured_object():
    result = event_from_dict(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "usage": USAGE,
            "stop_reason": "tool_use",
            "structured_output": {"city": "Paris"},
        }
    )
    assert isinstance(result, Result)
    forced = ToolPlan(None, '{"type":"object"}', "get_weather")
    body = complete([], result, forced, structured=True)
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) == 29
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    chunks = stream([], result, forced, structured=True, include_usage=True)
    (delta,) = tool_deltas(chunks)
    assert delta["index"] == 0 and delta["id"].startswith("call_") and delta["type"] == "function"
    assert delta["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == usage_from_result(USAGE)


# --- streaming -------------------------------------------------------------------------------


def test_a_streamed_call_is_id_and_name_first_then_argument_fragments():
    events = answer(tool_block("msg_1", 0, "toolu_1", "mcp__client__get_weather", PARIS))
    chunks = stream(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert tool_deltas(chunks) == [
        {
            "index": 0,
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": PARIS[0]}},
        {"index": 0, "function": {"arguments": PARIS[1]}},
    ]
    assert chunks[-1]["choices"] == [
        {"index": 0, "delta": {}, "finish_reason": "tool_calls", "logprobs": None}
    ]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_streamed_text_then_several_calls_one_id_each():
    events = answer(
        text_block("msg_1", 0, "Checking."),
        tool_block("msg_1", 1, "toolu_1", "mcp__client__get_weather", PARIS),
        tool_block("msg_1", 2, "toolu_2", "mcp__client__get_weather", ROME),
    )
    chunks = stream(events, PENDING_BOTH, include_usage=True)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Checking."
    assert assembled(chunks) == [weather_call("toolu_1", "Paris"), weather_call("toolu_2", "Rome")]
    assert [d["index"] for d in tool_deltas(chunks) if "id" in d] == [0, 1]
    final, usage = chunks[-2:]
    assert final["choices"][0]["finish_reason"] == "tool_calls" and final["usage"] is None
    assert usage["choices"] == [] and usage["usage"] == usage_from_result(USAGE)


def test_calls_across_messages_are_keyed_by_message_and_block():
    # A built-in tool's message first (its block 0 is not the client's), then the client's
    # call, also at block 0 of the next message.
    events = [
        *answer(tool_block("msg_1", 0, "toolu_0", "Read", ['{"file_path": "/x"}'])),
        *answer(
            tool_block("msg_2", 0, "toolu_1", "mcp__client__get_weather", PARIS), message="msg_2"
        ),
    ]
    chunks = stream(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert assembled(chunks) == [weather_call("toolu_1", "Paris")]


def test_stream_events_without_message_ids_use_the_message_start():
    events = [
        MessageStart("msg_1", MODEL),
        BlockStart(None, 0, "tool_use", "toolu_1", "mcp__client__get_weather"),
        *(InputJsonDelta(None, 0, piece) for piece in PARIS),
        paris_block("msg_1"),
    ]
    chunks = stream(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert assembled(chunks) == [weather_call("toolu_1", "Paris")]
    assert len(tool_deltas(chunks)) == 3  # the whole block adds nothing


def test_streaming_with_parallel_false_streams_the_first_call_only():
    events = answer(
        tool_block("msg_1", 0, "toolu_1", "mcp__client__get_weather", PARIS),
        tool_block("msg_1", 1, "toolu_2", "mcp__client__get_weather", ROME),
    )
    chunks = stream(events, PENDING_BOTH, ToolPlan(TOOLS, single=True))
    assert assembled(chunks) == [weather_call("toolu_1", "Paris")]


def test_a_non_client_tool_is_not_streamed():
    events = answer(
        tool_block("msg_1", 0, "toolu_0", "Read", ['{"file_path": "/x"}']),
        tool_block("msg_1", 1, "toolu_1", "mcp__client__get_weather", PARIS),
    )
    chunks = stream(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert assembled(chunks) == [weather_call("toolu_1", "Paris")]
    assert {d["index"] for d in tool_deltas(chunks)} == {0}


def test_a_message_without_stream_events_streams_its_calls_whole():
    # The CLI's non-streaming fallback: only the whole blocks arrive.
    events: list[CliEvent] = [
        AssistantBlock("msg_1", "text", "On it."),
        paris_block("msg_1"),
    ]
    chunks = stream(events, pending(("toolu_1", "get_weather", '{"city": "Paris"}')))
    assert tool_deltas(chunks) == [{"index": 0, **weather_call("toolu_1", "Paris")}]


def test_calls_only_in_tool_calls_pending_are_streamed_before_the_finish():
    chunks = stream([MessageStart("msg_1", MODEL)], PENDING_BOTH)
    assert assembled(chunks) == [weather_call("toolu_1", "Paris"), weather_call("toolu_2", "Rome")]
    assert "tool_calls" in chunks[-2]["choices"][0]["delta"]


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_and_completion_agree(include_usage):
    events = answer(
        text_block("msg_1", 0, "Checking."),
        tool_block("msg_1", 1, "toolu_1", "mcp__client__get_weather", PARIS),
        tool_block("msg_1", 2, "toolu_2", "mcp__client__get_weather", ROME),
    )
    message = complete(events, PENDING_BOTH)["choices"][0]["message"]
    chunks = stream(events, PENDING_BOTH, include_usage=include_usage)
    assert assembled(chunks) == message["tool_calls"]


def test_a_block_the_stream_broke_off_is_never_shown():
    """The stream of a message breaks mid-call and the CLI asks again without streaming: the
    client sees only the call that was made (held back until its block was whole)."""
    broken = [
        MessageStart("msg_1", MODEL, USAGE),
        BlockStart("msg_1", 0, "tool_use", "toolu_old", "mcp__client__get_weather"),
        InputJsonDelta("msg_1", 0, '{"ci'),
    ]
    assert [c for e in broken for c in ChunkBuilder(CID, CREATED, MODEL, plan=PLAN).feed(e)] == []
    fallback = AssistantBlock(
        "msg_2",
        "tool_use",
        "",
        tool_id="toolu_new",
        tool_name="mcp__client__get_weather",
        tool_input={"city": "Paris"},
    )
    chunks = stream([*broken, fallback], pending(("toolu_new", "get_weather", '{"city": "Paris"}')))
    assert assembled(chunks) == [weather_call("toolu_new", "Paris")]


def test_a_streamed_call_without_arguments_has_an_empty_object():
    events = answer(
        [
            BlockStart("msg_1", 0, "tool_use", "toolu_1", "mcp__client__get_time"),
            AssistantBlock(
                "msg_1",
                "tool_use",
                "",
                tool_id="toolu_1",
                tool_name="mcp__client__get_time",
                tool_input={},
            ),
        ]
    )
    chunks = stream(events, pending(("toolu_1", "get_time", "{}")))
    assert [c["function"]["arguments"] for c in assembled(chunks)] == ["{}"]  # as OpenAI: never ""
