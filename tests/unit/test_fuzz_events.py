"""Fuzz the stream-json parser and everything downstream of it: any line the CLI could print
(garbage, truncated, wrong types, huge numbers, deep nesting) gives an event or MalformedLine,
never a crash or a hang, and the OpenAI builders and metrics survive every event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_bridge.errors import ProxyError
from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder
from cli_bridge.protocol.events import CliEvent, MalformedLine, Result, event_from_line
from cli_bridge.protocol.result import error_from_result
from handlers.metrics import Metrics

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"
REAL_LINES = sorted(
    {line for f in DATA.glob("*.stdout") for line in f.read_bytes().splitlines() if line}
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "type",
    "subtype",
    "event",
    "delta",
    "index",
    "content_block",
    "message",
    "content",
    "text",
    "thinking",
    "usage",
    "result",
    "is_error",
    "api_error_status",
    "stop_reason",
    "errors",
    "retry_delay_ms",
    "error_status",
    "attempt",
    "rate_limit_info",
    "status",
    "api_message_id",
    "id",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "output_tokens_details",
    "terminal_reason",
    "session_id",
]
TYPES = [
    "stream_event",
    "assistant",
    "result",
    "system",
    "rate_limit_event",
    "user",
    "content_block_delta",
    "content_block_start",
    "message_start",
    "message_delta",
    "text_delta",
    "thinking_delta",
    "text",
    "thinking",
    "init",
    "api_retry",
    "success",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.sampled_from(TYPES)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=25,
)
cli_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)


METRICS = Metrics("fuzz")  # one registry for all examples: building one per example is slow


def parse(line: bytes | str) -> CliEvent | None:
    try:
        return event_from_line(line)
    except MalformedLine:
        return None


def drive_builders(events: list[CliEvent]) -> None:
    """Feed events as the HTTP layer does; a Result finishes both builders."""
    chunks = ChunkBuilder("chatcmpl-x", 0, "opus", include_usage=True)
    whole = CompletionBuilder("chatcmpl-x", 0, "opus")
    watch = METRICS.watch_turn("opus")
    chunks.first()
    for event in events:
        watch(event)
        if isinstance(event, Result):
            error = error_from_result(event, retry_after=None)
            assert error is None or isinstance(error, ProxyError)
            json.dumps(chunks.finish(event))
            json.dumps(whole.build(event))
        else:
            json.dumps(chunks.feed(event))
            whole.feed(event)
    METRICS.render(None)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_malformed(line: bytes) -> None:
    parse(line)


@FUZZ
@given(cli_objects)
def test_cli_shaped_objects_never_crash(obj: dict[str, Any]) -> None:
    event = parse(json.dumps(obj))
    assert event is not None  # a JSON object is always an event, maybe `Other`
    drive_builders([event])


@settings(FUZZ, max_examples=120)  # whole sequences: fewer, bigger examples
@given(st.lists(cli_objects, max_size=8), st.sampled_from(REAL_LINES))
def test_event_sequences_with_real_lines(objs: list[dict[str, Any]], real: bytes) -> None:
    events = [e for e in (parse(json.dumps(o)) for o in objs) if e is not None]
    real_event = parse(real)
    assert real_event is not None
    drive_builders([real_event, *events])


@FUZZ
@given(st.sampled_from(REAL_LINES), st.data())
def test_mutated_real_lines(real: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(real)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, max(0, len(real) - 1)), st.integers(0, 255)), max_size=5)
    )
    mutated = bytearray(real[:cut] if data.draw(st.booleans()) else real)
    for pos, value in flips:
        if pos < len(mutated):
            mutated[pos] = value
    event = parse(bytes(mutated))
    if event is not None:
        drive_builders([event])


def test_pathological_lines_are_handled_quickly() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert parse(deep) is None  # RecursionError is caught as malformed
    assert parse('{"type":"system","subtype":"api_retry","retry_delay_ms":1e999}') is not None
    assert parse("1" * 5000) is None  # int too long for str(): ValueError -> malformed
    huge = {"type": "result", "is_error": True, "usage": {"input_tokens": 10**400}}
    event = parse(json.dumps(huge))
    assert isinstance(event, Result)
    drive_builders([event])
