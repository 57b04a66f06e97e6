"""events.event_from_line against real CLI stdout, malformed input and fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_bridge.protocol.events import (
    ApiRetry,
    AssistantBlock,
    BlockStart,
    MalformedLine,
    MessageDelta,
    MessageStart,
    Other,
    RateLimitInfo,
    Result,
    SystemInit,
    TextDelta,
    ThinkingDelta,
    event_from_dict,
    event_from_line,
)

from .transcripts import ALL, events, lines


def shape(event) -> str:
    """A compact name for an event: its class, plus type/subtype for Other."""
    if isinstance(event, Other):
        return f"Other({event.type}/{event.subtype})"
    return type(event).__name__


# --- every line of every transcript ---------------------------------------------------------


def test_transcripts_present():
    # The copies this suite relies on (tests must not read /work/shared at run time).
    for name in (
        "b_stream_json",
        "c_partial",
        "c_partial_thinking",
        "d_stdin_string",
        "i_401_forever",
        "i_429_forever",
        "i_429_max_retries_0",
        "i_500_forever",
        "i_529_forever",
        "j_sigint_midstream",
        "k_max_turns_1",
        "k_tool_loop_partial",
        "n_no_api_key",
    ):
        assert name in ALL


@pytest.mark.parametrize("name", ALL)
def test_every_line_parses_and_each_turn_ends_with_a_result(name):
    parsed = events(name)
    assert len(parsed) == len(lines(name)) > 0
    assert isinstance(parsed[-1], Result)
    # Everything before the first Result belongs to the turn; no Result hides in the middle
    # except where the transcript really holds two turns.
    results = [i for i, e in enumerate(parsed) if isinstance(e, Result)]
    expected_turns = 2 if name == "j_interrupt_control_request" else 1
    assert len(results) == expected_turns


@pytest.mark.parametrize("name", ALL)
def test_str_and_bytes_lines_parse_alike(name):
    for line in lines(name):
        assert event_from_line(line) == event_from_line(line.decode("utf-8"))


def test_c_partial_event_sequence():
    parsed = events("c_partial")
    assert [shape(e) for e in parsed] == [
        "SystemInit",
        "Other(system/status)",
        "MessageStart",
        "BlockStart",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "AssistantBlock",
        "Other(stream_event/content_block_stop)",
        "MessageDelta",
        "Other(stream_event/message_stop)",
        "Result",
    ]
    init, status, start, block, d1, d2, d3, assistant, stop, mdelta, mstop, result = parsed
    msg = "msg_fake_1a6ccd0fec0d4db19d90"
    assert init == SystemInit(
        session_id="691b4006-5ef9-49cf-8297-115599495461",
        model="claude-opus-5-5",
        cli_version="2.1.332",
    )
    assert status.raw["status"] == "requesting"
    usage = {
        "input_tokens": 4418,
        "output_tokens": 1,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
    assert start == MessageStart(message_id=msg, model="claude-opus-5-5", usage=usage)
    assert block == BlockStart(message_id=msg, index=0, kind="text")
    assert [d1.text, d2.text, d3.text] == [
        "Hello from fake server",
        ". model=claude-opus-5-",
        "5 messages=2 request=1",
    ]
    assert {d.message_id for d in (d1, d2, d3)} == {msg}
    assert {d.index for d in (d1, d2, d3)} == {0}
    assert assistant.message_id == msg
    assert assistant.kind == "text"
    assert assistant.text == d1.text + d2.text + d3.text
    assert assistant.is_api_error is False
    assert assistant.api_error_status is None
    delta_usage = {"output_tokens": 16}
    assert mdelta == MessageDelta(message_id=msg, stop_reason="end_turn", usage=delta_usage)
    assert stop.subtype == "content_block_stop"
    assert mstop.subtype == "message_stop"
    assert result.text == assistant.text


def test_c_partial_result_fields():
    result = events("c_partial")[-1]
    assert isinstance(result, Result)
    assert result.subtype == "success"
    assert result.is_error is False
    assert result.stop_reason == "end_turn"
    assert result.terminal_reason == "completed"
    assert result.api_error_status is None
    assert result.errors == []
    assert result.session_id == "691b4006-5ef9-49cf-8297-115599495461"
    assert result.usage["input_tokens"] == 4418
    assert result.usage["output_tokens"] == 16
    assert result.usage["cache_read_input_tokens"] == 0
    assert result.usage["cache_creation_input_tokens"] == 0
    assert result.usage["output_tokens_details"] == {"thinking_tokens": 0}
    assert result.raw["type"] == "result"


def test_c_partial_thinking_has_thinking_then_text():
    parsed = events("c_partial_thinking")
    thinking = [e for e in parsed if isinstance(e, ThinkingDelta)]
    assert "".join(t.text for t in thinking) == "Let me think about this (fake thinking)."
    assert {t.index for t in thinking} == {0}
    starts = [e for e in parsed if isinstance(e, BlockStart)]
    assert [(s.index, s.kind) for s in starts] == [(0, "thinking"), (1, "text")]
    blocks = [e for e in parsed if isinstance(e, AssistantBlock)]
    assert [(b.kind, b.text) for b in blocks] == [
        ("thinking", "Let me think about this (fake thinking)."),
        ("text", "Hello from fake server. model=claude-opus-5-5 messages=2 request=1"),
    ]
    text = [e for e in parsed if isinstance(e, TextDelta)]
    assert {t.index for t in text} == {1}
    # signature_delta and thinking_tokens are not acted on
    others = {(e.type, e.subtype) for e in parsed if isinstance(e, Other)}
    assert ("stream_event", "content_block_delta") in others
    assert ("system", "thinking_tokens") in others


def test_b_stream_json_is_init_assistant_result():
    parsed = events("b_stream_json")
    assert [shape(e) for e in parsed] == ["SystemInit", "AssistantBlock", "Result"]
    assert parsed[1].text == parsed[2].text
    assert parsed[1].message_id == "msg_fake_7e47cb473b3e40738a3c"


def test_k_tool_loop_partial_two_messages():
    parsed = events("k_tool_loop_partial")
    starts = [e for e in parsed if isinstance(e, MessageStart)]
    assert [s.message_id for s in starts] == [
        "msg_fake_776a52e8f70043de8ddb",
        "msg_fake_98a9d43f1e504a21a637",
    ]
    blocks = [(e.message_id, e.kind, e.text) for e in parsed if isinstance(e, AssistantBlock)]
    assert blocks == [
        ("msg_fake_776a52e8f70043de8ddb", "text", "I will read the file."),
        ("msg_fake_776a52e8f70043de8ddb", "tool_use", ""),
        (
            "msg_fake_98a9d43f1e504a21a637",
            "text",
            "Hello from fake server. model=claude-opus-5-5 messages=4 request=2",
        ),
    ]
    assert [e.kind for e in parsed if isinstance(e, BlockStart)] == ["text", "tool_use", "text"]
    stops = [e.stop_reason for e in parsed if isinstance(e, MessageDelta)]
    assert stops == ["tool_use", "end_turn"]
    # the tool result echo is a `user` event
    assert [e.type for e in parsed if isinstance(e, Other) and e.type == "user"] == ["user"]
    assert parsed[-1].usage["output_tokens"] == 32


def test_old_cli_stream_events_carry_no_message_id():
    # CLI 2.1.197 omits api_message_id; only message_start knows the message id.
    parsed = events("v2_1_197_c_partial")
    start = next(e for e in parsed if isinstance(e, MessageStart))
    assert start.message_id == "msg_fake_664eddb057ac4b7cb3d8"
    assert {e.message_id for e in parsed if isinstance(e, TextDelta | BlockStart)} == {None}
    block = next(e for e in parsed if isinstance(e, AssistantBlock))
    assert block.message_id == start.message_id


# --- errors as the CLI reports them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "text_start"),
    [
        ("i_429_max_retries_0", 429, "API Error: Request rejected (429)"),
        ("i_429_forever", 429, "API Error: Request rejected (429)"),
        ("i_401_forever", 401, "Invalid API key"),
        ("i_500_forever", 500, "API Error: 500 Internal server error"),
        ("i_529_forever", 529, "API Error: 529 Overloaded"),
        ("i_400_forever", 400, "API Error: 400 fake error"),
        ("n_no_api_key", None, "Not logged in"),
    ],
)
def test_api_error_turns(name, status, text_start):
    parsed = events(name)
    synthetic = [e for e in parsed if isinstance(e, AssistantBlock)]
    assert len(synthetic) == 1
    block = synthetic[0]
    assert block.is_api_error is True
    assert block.api_error_status == status
    assert block.kind == "text"
    assert block.text.startswith(text_start)
    result = parsed[-1]
    # the CLI's gotcha: an upstream failure is subtype "success" with is_error true
    assert result.subtype == "success"
    assert result.is_error is True
    assert result.api_error_status == status
    assert result.terminal_reason == "api_error"
    assert result.stop_reason == "stop_sequence"
    assert result.text == block.text
    assert result.usage["input_tokens"] == 0


def test_normal_assistant_blocks_are_not_api_errors():
    for name in ("b_stream_json", "c_partial", "k_tool_loop_partial", "d_stdin_string"):
        for e in events(name):
            if isinstance(e, AssistantBlock):
                assert e.is_api_error is False, name


def test_synthetic_model_alone_flags_an_api_error():
    line = {
        "type": "assistant",
        "message": {"id": "x", "model": "<synthetic>", "content": [{"type": "text", "text": "t"}]},
    }
    assert event_from_dict(line).is_api_error is True
    line["message"]["model"] = "claude-opus-5-5"
    assert event_from_dict(line).is_api_error is False
    line["is_api_error_message"] = True
    assert event_from_dict(line).is_api_error is True


def test_api_retry_fields_from_i_429_forever():
    retries = [e for e in events("i_429_forever") if isinstance(e, ApiRetry)]
    assert [r.attempt for r in retries] == list(range(1, 11))
    assert {r.max_retries for r in retries} == {10}
    assert {r.error_status for r in retries} == {429}
    assert {r.error for r in retries} == {"rate_limit"}
    assert [r.retry_delay_ms for r in retries] == [
        522.0,
        1077.0,
        2442.0,
        4435.0,
        8534.0,
        18973.0,
        38567.0,
        35238.0,
        32918.0,
        37373.0,
    ]
    assert all(isinstance(r.retry_delay_ms, float) for r in retries)


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("i_401_forever", 401, "authentication_failed"),
        ("i_500_forever", 500, "server_error"),
        ("i_529_forever", 529, "overloaded"),
    ],
)
def test_api_retry_statuses(name, status, error):
    retries = [e for e in events(name) if isinstance(e, ApiRetry)]
    assert len(retries) == 10
    assert {(r.error_status, r.error) for r in retries} == {(status, error)}


def test_model_fallback_is_other_and_retries_continue():
    parsed = events("i_529_forever_fallback_model")
    fallback = [e for e in parsed if isinstance(e, Other) and e.subtype == "model_fallback"]
    assert len(fallback) == 1
    assert fallback[0].raw["fallback_model"] == "claude-sonnet-4-5"
    assert sum(isinstance(e, ApiRetry) for e in parsed) == 12


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (532, 532.0),
        (532.5, 532.5),
        (0, 0.0),
        (None, None),
        ("532", None),
        (True, None),  # a bool is not a number of milliseconds
        (-5, None),
        pytest.param(10**400, None, id="int-too-large-for-a-float"),
    ],
)
def test_api_retry_delay_is_a_finite_number_or_none(value, expected):
    event = event_from_dict({"type": "system", "subtype": "api_retry", "retry_delay_ms": value})
    assert isinstance(event, ApiRetry)
    assert event.retry_delay_ms == expected


def test_api_retry_delay_huge_and_infinite_from_json_lines():
    huge = '{"type":"system","subtype":"api_retry","attempt":1,"retry_delay_ms":' + "9" * 400 + "}"
    assert event_from_line(huge).retry_delay_ms is None
    inf = '{"type":"system","subtype":"api_retry","attempt":1,"retry_delay_ms":1e999}'
    assert event_from_line(inf).retry_delay_ms is None
    nan = '{"type":"system","subtype":"api_retry","attempt":1,"retry_delay_ms":NaN}'
    assert event_from_line(nan).retry_delay_ms is None


def test_api_retry_defaults():
    event = event_from_dict({"type": "system", "subtype": "api_retry"})
    assert event == ApiRetry(
        attempt=0, max_retries=None, retry_delay_ms=None, error_status=None, error=None
    )


def test_max_turns_result():
    parsed = events("k_max_turns_1")
    result = parsed[-1]
    assert result.subtype == "error_max_turns"
    assert result.is_error is True
    assert result.terminal_reason == "max_turns"
    assert result.stop_reason == "tool_use"
    assert result.errors == ["Reached maximum number of turns (1)"]
    assert result.text == ""  # `result` is absent from this line
    assert result.api_error_status is None


def test_sigint_midstream_result_and_aborted_block():
    parsed = events("j_sigint_midstream")
    block = next(e for e in parsed if isinstance(e, AssistantBlock))
    assert block.text == "01234567890123456789"
    assert block.raw["aborted"] is True
    assert block.is_api_error is False
    # the synthetic message_delta after the interrupt has no stop reason
    assert [e.stop_reason for e in parsed if isinstance(e, MessageDelta)] == [None]
    result = parsed[-1]
    assert result.subtype == "error_during_execution"
    assert result.terminal_reason == "aborted_streaming"
    assert result.is_error is True
    assert result.errors[0].startswith("[ede_diagnostic]")


def test_control_response_is_other():
    parsed = events("j_interrupt_control_request")
    ctrl = [e for e in parsed if isinstance(e, Other) and e.type == "control_response"]
    assert len(ctrl) == 1
    assert ctrl[0].subtype is None


def test_rate_limit_events():
    info = {"status": "allowed", "resetsAt": 1}
    assert event_from_dict({"type": "rate_limit_event", "rate_limit_info": info}) == (
        RateLimitInfo(info)
    )
    raw = {"type": "system", "subtype": "rate_limit", "x": 1}
    assert event_from_dict(raw) == RateLimitInfo(raw)


def test_result_junk_fields_are_normalised():
    event = event_from_dict(
        {
            "type": "result",
            "is_error": 1,
            "result": 5,
            "usage": [],
            "errors": "boom",
            "api_error_status": "429",
            "stop_reason": 3,
        }
    )
    assert isinstance(event, Result)
    assert event.subtype == "None"
    assert event.is_error is True
    assert event.text == ""
    assert event.usage == {}
    assert event.errors == []
    assert event.api_error_status is None
    assert event.stop_reason is None


# --- malformed lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        "{",
        '{"type": "result"',
        "[]",
        '[{"type": "result"}]',
        "42",
        '"string"',
        "null",
        "true",
        b"\xff\xfe\x00garbage",
        b'{"type": "assistant", "x": "\xff"}',  # invalid UTF-8 inside a JSON object
        b"\x80",
        "[" * 100_000,  # nesting deeper than the JSON parser's recursion limit
        '{"a":' * 100_000,
    ],
)
def test_malformed_lines_raise_malformed_line(line):
    with pytest.raises(MalformedLine):
        event_from_line(line)


def test_malformed_line_is_a_value_error():
    assert issubclass(MalformedLine, ValueError)


def test_unknown_types_become_other():
    assert event_from_line('{"type": "brand_new", "subtype": "x"}') == Other(
        "brand_new", "x", {"type": "brand_new", "subtype": "x"}
    )
    assert event_from_line("{}") == Other("None", None, {})
    other = event_from_line('{"type": "stream_event", "event": "nope"}')
    assert (other.type, other.subtype) == ("stream_event", None)


def test_stream_event_edge_cases():
    # content_block_start without a block, delta without text
    start = event_from_dict({"type": "stream_event", "event": {"type": "content_block_start"}})
    assert start == BlockStart(None, 0, "other")
    delta = event_from_dict(
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta"}},
        }
    )
    assert isinstance(delta, Other)
    assert delta.subtype == "content_block_delta"
    mstart = event_from_dict(
        {"type": "stream_event", "event": {"type": "message_start", "message": {"id": "m1"}}}
    )
    assert mstart == MessageStart("m1", None)
    # api_message_id wins over the message's own id
    mstart = event_from_dict(
        {
            "type": "stream_event",
            "api_message_id": "m2",
            "event": {"type": "message_start", "message": {"id": "m1", "model": "x"}},
        }
    )
    assert mstart == MessageStart("m2", "x")
    bool_index = event_from_dict(
        {
            "type": "stream_event",
            "event": {
                "type": "content_block_delta",
                "index": True,
                "delta": {"type": "text_delta", "text": "t"},
            },
        }
    )
    assert bool_index == TextDelta(None, 0, "t")


def test_assistant_edge_cases():
    empty = event_from_dict({"type": "assistant"})
    assert isinstance(empty, AssistantBlock)
    assert (empty.kind, empty.text, empty.message_id, empty.is_api_error) == (
        "other",
        "",
        None,
        False,
    )
    thinking = event_from_dict(
        {"type": "assistant", "message": {"content": [{"type": "thinking", "thinking": "hm"}]}}
    )
    assert (thinking.kind, thinking.text) == ("thinking", "hm")
    odd = event_from_dict({"type": "assistant", "message": {"content": ["text"]}})
    assert (odd.kind, odd.text) == ("other", "")
    # a block type the bridge does not tell apart is "other", never a free-form string
    new = event_from_dict({"type": "assistant", "message": {"content": [{"type": "x_block"}]}})
    assert new.kind == "other"


# --- fuzzing: nothing but MalformedLine ever escapes ----------------------------------------

KNOWN_TYPES = st.sampled_from(
    ["system", "assistant", "user", "result", "stream_event", "rate_limit_event", "x"]
)
KNOWN_SUBTYPES = st.sampled_from(
    ["init", "api_retry", "status", "rate_limit", "success", "error_max_turns", "x"]
)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "subtype",
                    "event",
                    "message",
                    "content",
                    "delta",
                    "text",
                    "thinking",
                    "index",
                    "id",
                    "model",
                    "usage",
                    "errors",
                    "result",
                    "content_block",
                    "stop_reason",
                    "retry_delay_ms",
                    "attempt",
                    "rate_limit_info",
                    "api_message_id",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)
EVENT_LIKE = st.fixed_dictionaries(
    {"type": KNOWN_TYPES},
    optional={
        "subtype": KNOWN_SUBTYPES | JSON_LEAF,
        "event": JSON_VALUE,
        "message": JSON_VALUE,
        "usage": JSON_VALUE,
        "errors": JSON_VALUE,
        "result": JSON_VALUE,
        "retry_delay_ms": JSON_VALUE,
        "attempt": JSON_VALUE,
        "rate_limit_info": JSON_VALUE,
        "api_message_id": JSON_VALUE,
    },
)


def parse_or_malformed(line):
    try:
        return event_from_line(line)
    except MalformedLine:
        return None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_text_never_raises_other_errors(text):
    parse_or_malformed(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_fuzz_bytes_never_raise_other_errors(data):
    parse_or_malformed(data)


@settings(max_examples=400, deadline=None)
@given(EVENT_LIKE | st.dictionaries(st.text(max_size=10), JSON_VALUE, max_size=6))
def test_fuzz_json_objects_always_give_an_event(obj):
    line = json.dumps(obj)
    event = event_from_line(line)  # a JSON object is never malformed
    assert event is not None
    assert event == event_from_line(line.encode())


@settings(max_examples=200, deadline=None)
@given(st.lists(JSON_VALUE, max_size=3) | JSON_LEAF)
def test_fuzz_json_non_objects_are_malformed(value):
    with pytest.raises(MalformedLine):
        event_from_line(json.dumps(value))
