"""OpenAI Responses conversions, both directions, without processes: input items -> the chat
conversation (and so hub turns), every 400 with the Responses param, CLI events -> the
Response object and the event stream (validated against openapi.yaml)."""

from __future__ import annotations

import json

import pytest

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.request import input_from_messages
from cli_bridge.formats.openai_responses.request import (
    controls_from_body,
    conversation,
    input_items,
    plan_from_body,
    renamed,
)
from cli_bridge.formats.openai_responses.response import ResponseBuilder, ResponseMeta
from cli_bridge.formats.openai_responses.stream import ResponsesStreamEncoder
from cli_bridge.protocol.client_tools import ToolCall
from cli_bridge.protocol.events import (
    AssistantBlock,
    BlockStart,
    InputJsonDelta,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
    ToolCallsPending,
)
from tests.contract import Contract

CONTRACT = Contract()
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
USAGE = {"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 2}


def turns(body: dict, history: list | None = None):
    items = input_items(body.get("input"))
    conv = conversation(body.get("instructions"), history or [], items)
    plan = plan_from_body(body, any(i.get("type") for i in [*(history or []), *items]))
    with renamed(conv.param):
        return input_from_messages(conv.messages, tools=plan.tools)


def refusal(body: dict, history: list | None = None) -> str | None:
    with pytest.raises(InvalidRequest) as caught:
        controls_from_body(body)
        turns(body, history)
    return caught.value.param


def test_a_string_input_is_one_user_turn_with_instructions_as_system():
    cli = turns({"input": "hi", "instructions": "be brief"})
    assert cli.prompt == "hi" and cli.system_prompt == "be brief" and cli.history == ()


def test_items_become_real_turns_with_tool_blocks():
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "toolu_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "status": "completed",
        },
        {"type": "function_call", "call_id": "toolu_2", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
        {
            "type": "function_call_output",
            "call_id": "toolu_2",
            "output": [{"type": "input_text", "text": "rain"}],
        },
    ]
    cli = turns({"input": items, "tools": [TOOL]})
    user, assistant = cli.history
    assert user == {"role": "user", "content": [{"type": "text", "text": "weather?"}]}
    assert assistant["content"] == [
        {"type": "text", "text": "Checking."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "mcp__client__get_weather",
            "input": {"city": "Paris"},
        },
        {"type": "tool_use", "id": "toolu_2", "name": "mcp__client__get_weather", "input": {}},
    ]
    assert cli.prompt == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": [{"type": "text", "text": "rain"}],
        },
    ]


def test_the_stored_chain_comes_before_the_new_input():
    history = [
        {"type": "message", "role": "user", "content": "first"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "one"}],
        },
    ]
    cli = turns({"input": "second"}, history)
    assert [t["role"] for t in cli.history] == ["user", "assistant"]
    assert cli.prompt == "second"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "reasoning", "summary": []}]}, "input.0.type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file"}]}]},
            "input.0.content.0.type",
        ),
        ({"input": [{"role": "robot", "content": "x"}]}, "input.0.role"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input.0.call_id"),
        (
            {
                "input": [
                    {"role": "user", "content": "x"},
                    {
                        "type": "function_call",
                        "call_id": "c",
                        "name": "get_weather",
                        "arguments": "[1]",
                    },
                    {"type": "function_call_output", "call_id": "c", "output": "o"},
                ],
                "tools": [TOOL],
            },
            "input.1.arguments",
        ),
        (
            {
                "input": [
                    {"role": "user", "content": "x"},
                    {"type": "function_call_output", "call_id": "nope", "output": "o"},
                ],
                "tools": [TOOL],
            },
            "input.1.call_id",
        ),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools.0.type"),
        ({"input": "x", "tools": [{"type": "function", "name": "bad name"}]}, "tools.0.name"),
        (
            {"input": "x", "tools": [TOOL], "tool_choice": {"type": "function", "name": "other"}},
            "tool_choice",
        ),
        ({"input": "x", "tool_choice": "required"}, "tool_choice"),
        (
            {
                "input": "x",
                "text": {
                    "format": {"type": "json_schema", "name": "n", "schema": {"type": "array"}}
                },
            },
            "text.format",
        ),
        ({"input": "x", "background": True}, "background"),
        ({"input": "x", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "top_logprobs": 2}, "top_logprobs"),
        ({"input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "instructions": 3}, "instructions"),
        ({"input": []}, "input"),
    ],
)
def test_every_refusal_names_the_responses_field(body, param):
    assert refusal(body) == param


def test_controls_and_structured_output():
    controls = controls_from_body({"max_output_tokens": 64, "reasoning": {"effort": "minimal"}})
    assert (controls.max_output_tokens, controls.effort) == (64, "low")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    plan = plan_from_body(
        {"text": {"format": {"type": "json_schema", "name": "n", "schema": schema}}}, False
    )
    assert plan.output_schema is not None and plan.tools is None
    forced = plan_from_body(
        {"tools": [TOOL], "tool_choice": {"type": "function", "name": "get_weather"}}, False
    )
    assert forced.forced == "get_weather"


META_BODY = {"model": "sonnet", "instructions": "i", "tools": [TOOL], "metadata": {"k": "v"}}


def meta() -> ResponseMeta:
    return ResponseMeta.from_body(META_BODY, "resp_1", 1700000000)


def result(stop_reason: str = "end_turn") -> Result:
    return Result("success", False, "", USAGE, stop_reason, None, None, [], "s")


def test_a_whole_answer_is_a_valid_response():
    builder = ResponseBuilder(meta())
    builder.feed(AssistantBlock("m1", "text", "Hello"))
    body = builder.build(result())
    CONTRACT._response_event.validate(
        {"type": "response.completed", "sequence_number": 0, "response": body}
    )
    assert body["status"] == "completed" and body["output"][0]["content"][0]["text"] == "Hello"
    assert body["usage"]["input_tokens"] == 7
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 2
    assert body["tools"][0]["name"] == "get_weather" and body["metadata"] == {"k": "v"}


def test_the_output_limit_is_an_incomplete_response():
    builder = ResponseBuilder(meta())
    builder.feed(AssistantBlock("m1", "text", "Hel"))
    body = builder.build(result("max_tokens"))
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}


def test_tool_calls_are_function_call_items_with_the_tool_use_id():
    plan = plan_from_body({"tools": [TOOL]}, False)
    builder = ResponseBuilder(meta(), plan=plan)
    builder.feed(AssistantBlock("m1", "text", "Checking."))
    pending = ToolCallsPending((ToolCall("toolu_9", "get_weather", '{"city":"Paris"}'),), USAGE)
    body = builder.build(pending)
    message, call = body["output"]
    assert message["content"][0]["text"] == "Checking."
    assert call["type"] == "function_call" and call["call_id"] == "toolu_9"
    assert call["id"].startswith("fc_") and call["arguments"] == '{"city":"Paris"}'


def stream_text(payloads: list[dict]) -> str:
    return "".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n" for p in payloads)


def test_the_stream_sequence_for_text():
    encoder = ResponsesStreamEncoder(meta())
    out = encoder.opening()
    out += encoder.feed(MessageStart("m1", "sonnet"))
    out += encoder.feed(BlockStart("m1", 0, "text"))
    out += encoder.feed(TextDelta("m1", 0, "Hel"))
    out += encoder.feed(TextDelta("m1", 0, "lo"))
    out += encoder.feed(MessageDelta("m1", "end_turn"))
    out += encoder.finish(result())
    CONTRACT.check_responses_sse(stream_text(out))
    assert [p["type"] for p in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == "Hello"
    assert encoder.final == out[-1]["response"]


def test_the_stream_sequence_for_a_tool_call():
    plan = plan_from_body({"tools": [TOOL]}, False)
    encoder = ResponsesStreamEncoder(meta(), plan=plan)
    out = encoder.opening()
    out += encoder.feed(MessageStart("m1", "sonnet"))
    out += encoder.feed(BlockStart("m1", 0, "text"))
    out += encoder.feed(TextDelta("m1", 0, "Checking."))
    out += encoder.feed(BlockStart("m1", 1, "tool_use", "toolu_1", "mcp__client__get_weather"))
    out += encoder.feed(InputJsonDelta("m1", 1, '{"city":'))
    out += encoder.feed(InputJsonDelta("m1", 1, '"Paris"}'))
    name, args = "mcp__client__get_weather", {"city": "Paris"}
    whole = AssistantBlock("m1", "tool_use", "", tool_id="toolu_1", tool_name=name, tool_input=args)
    out += encoder.feed(whole)  # the CLI's whole block: the call is shown from here
    pending = ToolCallsPending((ToolCall("toolu_1", "get_weather", '{"city":"Paris"}'),), USAGE)
    out += encoder.finish(pending)
    CONTRACT.check_responses_sse(stream_text(out))
    kinds = [p["type"] for p in out]
    assert kinds[-9:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = next(p for p in out if p["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"city":"Paris"}' and done["name"] == "get_weather"
    final = out[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["call_id"] == "toolu_1"


def test_a_late_failure_is_an_error_event_then_response_failed():
    encoder = ResponsesStreamEncoder(meta())
    out = encoder.opening()
    body = {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": "cli_failed"}
    }
    out += encoder.error(body)
    CONTRACT.check_responses_sse(stream_text(out))
    assert [p["type"] for p in out[-2:]] == ["error", "response.failed"]
    assert out[-1]["response"]["error"] == {"code": "server_error", "message": "boom"}
