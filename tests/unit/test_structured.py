"""Structured output without processes: response_format parsing, checking, retry, shapes."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncGenerator

import pytest

from cli_bridge import CliRequest
from cli_bridge.engine.history import ProcessKey, conversation_digest
from cli_bridge.engine.structured import (
    MAX_SCHEMA_CHARS,
    StructuredOutputFailed,
    checked_events,
    output_problem,
)
from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder
from cli_bridge.formats.openai_chat.structured import output_schema
from cli_bridge.protocol.events import (
    AssistantBlock,
    CliEvent,
    Result,
    TextDelta,
    event_from_dict,
)
from cli_bridge.protocol.stdin import initialize_line

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def result(structured: object = None, stop_reason: str = "tool_use") -> Result:
    raw: dict = {"type": "result", "subtype": "success", "result": "x", "stop_reason": stop_reason}
    if structured is not None:
        raw["structured_output"] = structured
    event = event_from_dict(raw)
    assert isinstance(event, Result)
    return event


def json_schema(schema: object) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": True}}


def test_result_carries_structured_output():
    assert result({"a": 1}).structured_output == {"a": 1}
    assert result().structured_output is None
    assert result([1, 2]).structured_output is None  # never an object: not an answer


def test_response_format_to_schema_text():
    assert output_schema(None) is None
    assert output_schema({"type": "text"}) is None
    assert json.loads(output_schema({"type": "json_object"}) or "") == {"type": "object"}
    text = output_schema(json_schema(PERSON)) or ""
    assert json.loads(text) == PERSON
    reordered = dict(reversed(list(PERSON.items())))
    assert output_schema(json_schema(reordered)) == text, "one text per schema"


@pytest.mark.parametrize(
    "schema",
    [
        None,
        {"type": "array", "items": {}},
        {"properties": {}},
        {"type": "object", "properties": {"a": {"type": 5}}},
        {"type": "object", "description": "x" * MAX_SCHEMA_CHARS},
    ],
)
def test_unusable_schema_is_400(schema: object):
    with pytest.raises(InvalidRequest) as caught:
        output_schema(json_schema(schema))
    assert caught.value.param == "response_format"
    assert caught.value.status == 400


def test_output_checked_against_schema():
    assert output_problem(PERSON, result({"name": "Ada", "age": 36})) is None
    assert "did not call" in (output_problem(PERSON, result()) or "")
    assert "not valid" in (output_problem(PERSON, result({"name": "Ada"})) or "")
    assert "not valid" in (output_problem(PERSON, result({"name": 1, "age": 2})) or "")
    local = {"type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}, "$defs": {"n": {}}}
    assert output_problem(local, result({"a": 1})) is None


def test_remote_ref_is_never_fetched():
    """A client's `$ref` to a URL would make the proxy fetch it (request forgery): it fails."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/schema.json"
        remote = {"type": "object", "properties": {"a": {"$ref": url}}}
        assert "could not be applied" in (output_problem(remote, result({"a": 1})) or "")
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected


def attempts(*outputs: object) -> tuple[list[int], object]:
    """A turn factory whose n-th run ends with outputs[n]; counts the runs."""
    runs: list[int] = []

    async def run() -> AsyncGenerator[CliEvent, None]:
        runs.append(1)
        yield TextDelta("m", 0, "some text")
        yield result(outputs[len(runs) - 1])

    return runs, run


async def collect(events: AsyncGenerator[CliEvent, None]) -> list[CliEvent]:
    return [e async for e in events]


def test_one_retry_then_the_valid_result():
    runs, run = attempts(None, {"name": "Ada", "age": 36})
    events = asyncio.run(collect(checked_events(run, PERSON)))  # type: ignore[arg-type]
    assert len(runs) == 2
    last = events[-1]
    assert isinstance(last, Result) and last.structured_output == {"name": "Ada", "age": 36}
    assert sum(isinstance(e, Result) for e in events) == 1, "an invalid result never passes"


def test_invalid_twice_is_an_error():
    runs, run = attempts({"name": "Ada"}, None, {"name": "Ada", "age": 1})
    with pytest.raises(StructuredOutputFailed) as caught:
        asyncio.run(collect(checked_events(run, PERSON)))  # type: ignore[arg-type]
    assert len(runs) == 2, "one retry, no more"
    assert caught.value.status == 502
    assert caught.value.code == "invalid_structured_output"


def test_schema_is_part_of_the_process_key():
    plain = CliRequest("claude-sonnet-5-5", "hi")
    a = CliRequest("claude-sonnet-5-5", "hi", output_schema='{"type":"object"}')
    b = CliRequest("claude-sonnet-5-5", "hi", output_schema=output_schema(json_schema(PERSON)))
    assert len({plain.key, a.key, b.key}) == 3
    assert len({plain.key.label, a.key.label, b.key.label}) == 3
    assert "schema:" in a.key.label and "properties" not in b.key.label
    turns = ({"role": "user", "content": "hi"}, {"role": "assistant", "content": "{}"})
    assert conversation_digest(plain.key, turns) != conversation_digest(a.key, turns)
    assert ProcessKey("m").label == "m"


def test_initialize_line_carries_the_schema():
    line = initialize_line(PERSON)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    sent = json.loads(line)
    assert sent["type"] == "control_request" and sent["request_id"]
    assert sent["request"] == {"subtype": "initialize", "jsonSchema": PERSON}


def text_events() -> list[CliEvent]:
    raw = {"type": "assistant", "message": {"id": "m", "content": [{"type": "text", "text": "t"}]}}
    block = event_from_dict(raw)
    assert isinstance(block, AssistantBlock)
    return [TextDelta("m", 0, "prose"), block]


def test_completion_is_the_object():
    builder = CompletionBuilder("id", 1, "sonnet", structured=True)
    for event in text_events():
        builder.feed(event)
    choice = builder.build(result({"name": "Ada", "age": 36}))["choices"][0]
    assert json.loads(choice["message"]["content"]) == {"name": "Ada", "age": 36}
    assert choice["finish_reason"] == "stop"  # the CLI's stop_reason is "tool_use"


def test_stream_sends_the_object_whole_at_the_end():
    builder = ChunkBuilder("id", 1, "sonnet", structured=True)
    assert all(builder.feed(e) == [] for e in text_events())
    first, last = builder.finish(result({"name": "Ada", "age": 36}))
    assert json.loads(first["choices"][0]["delta"]["content"]) == {"name": "Ada", "age": 36}
    assert first["choices"][0]["finish_reason"] is None
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
