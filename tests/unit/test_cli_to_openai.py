"""cli_to_openai: usage, finish reasons, error mapping and replaying real turns through the
streaming and non-streaming builders."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_bridge.errors import (
    AuthenticationFailed,
    CliFailed,
    InvalidRequest,
    Overloaded,
    RateLimited,
    Timeout,
    UpstreamError,
    UpstreamUnavailable,
)
from cli_bridge.formats.openai_chat.response import (
    ChunkBuilder,
    CompletionBuilder,
    finish_reason_from_stop_reason,
    usage_from_result,
)
from cli_bridge.protocol.events import (
    AssistantBlock,
    BlockStart,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
    event_from_dict,
    event_from_line,
    usage_from_json,
)
from cli_bridge.protocol.result import error_from_result
from cli_bridge.protocol.text import BLOCK_SEPARATOR, TextAssembler
from handlers.errors import openai_body

from .transcripts import events, lines

CID = "chatcmpl-test123"
CREATED = 1_700_000_000
MODEL = "claude-max/opus"

SUCCESS_TURNS = [
    "b_stream_json",
    "c_partial",
    "c_partial_thinking",
    "d_stdin_string",
    "k_tool_loop_partial",
    "v2_1_197_c_partial",
]


def first_turn(evs):
    """The events of the first turn, and its Result."""
    for i, e in enumerate(evs):
        if isinstance(e, Result):
            return evs[:i], e
    raise AssertionError("no result")


def complete(evs) -> dict:
    body, result = first_turn(evs)
    builder = CompletionBuilder(CID, CREATED, MODEL)
    for e in body:
        builder.feed(e)
    return builder.build(result)


def stream(evs, include_usage: bool = False) -> list[dict]:
    body, result = first_turn(evs)
    builder = ChunkBuilder(CID, CREATED, MODEL, include_usage=include_usage)
    chunks = [builder.first()]
    for e in body:
        chunks += builder.feed(e)
    return chunks + builder.finish(result)


def streamed_text(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def result_with(**fields) -> Result:
    base = {"type": "result", "subtype": "success", "is_error": False, "usage": {}}
    return event_from_dict({**base, **fields})


# --- usage ----------------------------------------------------------------------------------


def test_usage_counts_cache_reads_and_writes_as_prompt():
    usage = usage_from_result(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 200,
            "cache_creation_input_tokens": 30,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 3},
        }
    )
    assert usage == {
        "prompt_tokens": 240,
        "completion_tokens": 7,
        "total_tokens": 247,
        "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 3,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def test_usage_from_real_result():
    result = events("c_partial")[-1]
    usage = usage_from_result(result.usage)
    assert usage["prompt_tokens"] == 4418
    assert usage["completion_tokens"] == 16
    assert usage["total_tokens"] == 4434
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


@pytest.mark.parametrize(
    "junk",
    [None, "12", 1.5, True, False, [], {}, {"n": 1}],
)
def test_usage_junk_values_count_as_zero(junk):
    """Junk is dropped where the `result` line is parsed (usage_from_json), so it counts 0."""
    usage = usage_from_result(
        usage_from_json(
            {
                "input_tokens": junk,
                "cache_read_input_tokens": junk,
                "cache_creation_input_tokens": junk,
                "output_tokens": junk,
                "output_tokens_details": {"thinking_tokens": junk},
            }
        )
    )
    assert usage["prompt_tokens"] == 0
    assert usage["completion_tokens"] == 0
    assert usage["total_tokens"] == 0
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    # bool is an int subclass: it must not leak through as True/False
    assert type(usage["completion_tokens_details"]["reasoning_tokens"]) is int


@pytest.mark.parametrize("details", [None, "x", [], 3])
def test_usage_without_details(details):
    usage = usage_from_result(
        usage_from_json({"output_tokens": 4, "output_tokens_details": details})
    )
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["completion_tokens"] == 4


def test_usage_empty():
    usage = usage_from_result({})
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (0, 0, 0)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "input_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
                "output_tokens",
                "output_tokens_details",
            ]
        ),
        st.none() | st.booleans() | st.integers(0, 10**9) | st.text(max_size=3),
    )
)
def test_usage_totals_add_up(raw):
    usage = usage_from_result(usage_from_json(raw))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] >= usage["prompt_tokens_details"]["cached_tokens"]
    for value in (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"],
    ):
        assert type(value) is int


# --- finish reasons -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("", "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason(stop, finish):
    assert finish_reason_from_stop_reason(stop) == finish


# --- errors ---------------------------------------------------------------------------------


def test_success_is_no_error():
    for name in SUCCESS_TURNS:
        _, result = first_turn(events(name))
        assert error_from_result(result) is None, name


def test_401_is_authentication_failed():
    err = error_from_result(events("i_401_forever")[-1])
    assert isinstance(err, AuthenticationFailed)
    assert err.status == 401
    assert err.type == "authentication_error"
    assert "Invalid API key" in err.message
    assert openai_body(err)["error"]["type"] == "authentication_error"
    assert err.headers() == {}


def test_not_logged_in_is_authentication_failed():
    result = events("n_no_api_key")[-1]
    assert result.api_error_status is None
    err = error_from_result(result)
    assert isinstance(err, AuthenticationFailed)
    assert err.status == 401
    assert "Not logged in" in err.message


def test_429_is_rate_limited_with_retry_after():
    err = error_from_result(events("i_429_max_retries_0")[-1])
    assert isinstance(err, RateLimited)
    assert err.status == 429
    assert err.type == "rate_limit_error"
    assert err.code == "rate_limit_exceeded"
    assert err.message.startswith("API Error: Request rejected (429)")
    assert err.headers() == {"Retry-After": "1"}


def test_429_retry_after_from_the_last_api_retry():
    evs = events("i_429_forever")
    delay = [e for e in evs if hasattr(e, "retry_delay_ms")][-1].retry_delay_ms
    err = error_from_result(evs[-1], retry_after=delay / 1000)
    assert isinstance(err, RateLimited)
    assert err.headers() == {"Retry-After": "37"}  # 37373 ms


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("Rate limited, retry after 30 s", "30"),
        ("rate limited: try again in 2.6s", "3"),
        ("Rate limited", "1"),
        ("retry in 500ms", "1"),
    ],
)
def test_429_retry_hint_in_message(text, header):
    result = result_with(is_error=True, api_error_status=429, result=text)
    err = error_from_result(result)
    assert isinstance(err, RateLimited)
    assert err.headers() == {"Retry-After": header}


def test_529_is_overloaded_503():
    err = error_from_result(events("i_529_forever")[-1])
    assert isinstance(err, Overloaded)
    assert err.status == 503
    assert err.code == "upstream_overloaded"
    assert err.headers() == {"Retry-After": "1"}
    err = error_from_result(events("i_529_forever")[-1], retry_after=4.4)
    assert err.headers() == {"Retry-After": "4"}


def test_500_is_upstream_unavailable_503():
    # Transient 5xx: the proxy retries it (retry.py), then answers 503 with Retry-After.
    err = error_from_result(events("i_500_forever")[-1])
    assert isinstance(err, UpstreamUnavailable)
    assert (err.status, err.code, err.upstream_status) == (503, "upstream_error", 500)
    assert err.headers() == {"Retry-After": "1"}
    assert "500 Internal server error" in err.message


def test_400_is_invalid_request():
    err = error_from_result(events("i_400_forever")[-1])
    assert isinstance(err, InvalidRequest)
    assert err.status == 400
    assert err.type == "invalid_request_error"
    assert err.message == "API Error: 400 fake error"


@pytest.mark.parametrize(
    ("status", "cls", "http"),
    [
        (403, AuthenticationFailed, 401),
        (413, InvalidRequest, 400),
        (503, Overloaded, 503),
        (404, UpstreamError, 502),
        (502, UpstreamUnavailable, 503),
        (500, UpstreamUnavailable, 503),
    ],
)
def test_other_statuses(status, cls, http):
    err = error_from_result(result_with(is_error=True, api_error_status=status, result="boom"))
    assert type(err) is cls
    assert err.status == http
    assert err.upstream_status == status
    assert err.message.endswith("boom")


def test_max_turns_is_cli_failed():
    err = error_from_result(events("k_max_turns_1")[-1])
    assert isinstance(err, CliFailed)
    assert err.status == 502
    assert err.code == "max_turns"
    assert err.message == "Reached maximum number of turns (1)"


def test_interrupted_turn_is_cli_failed():
    err = error_from_result(events("j_sigint_midstream")[-1])
    assert isinstance(err, CliFailed)
    assert err.code == "cli_failed"
    assert err.message.startswith("[ede_diagnostic]")


def test_stream_idle_timeout_is_504():
    err = error_from_result(events("j_upstream_hang_idle5s_no_fallback")[-1])
    assert isinstance(err, Timeout)
    assert (err.status, err.code) == (504, "upstream_timeout")
    assert "Stream idle timeout" in err.message


def test_api_error_without_status_is_upstream_error():
    result = result_with(
        is_error=True, terminal_reason="api_error", result="API Error: Connection refused"
    )
    err = error_from_result(result)
    assert isinstance(err, UpstreamError)
    assert (err.status, err.code) == (502, "upstream_error")


def test_error_without_any_text_names_the_subtype():
    err = error_from_result(result_with(subtype="error_during_execution", is_error=True))
    assert isinstance(err, CliFailed)
    assert err.message == "Claude CLI turn failed (error_during_execution)"


def test_errors_come_from_api_error_status_not_subtype():
    # every real upstream failure has subtype "success"
    for name in ("i_401_forever", "i_429_forever", "i_500_forever", "i_529_forever"):
        result = events(name)[-1]
        assert result.subtype == "success"
        assert error_from_result(result) is not None


# --- TextAssembler --------------------------------------------------------------------------


def test_text_assembler_rules():
    text = TextAssembler()
    assert text.on_text("m1", "") == ""  # nothing emitted yet: no separator later
    assert text.on_text("m1", "a") == "a"
    assert text.on_text("m1", "b") == "b"  # same message: concatenated
    assert text.on_text("m2", "c") == BLOCK_SEPARATOR + "c"
    text.on_block_start("m3")
    assert text.on_text("m3", "") == ""  # an empty piece emits nothing, even the separator
    assert text.on_text("m3", "d") == "\n\nd"
    text.on_block_start("m3")  # a second block of the same message
    assert text.on_text("m3", "e") == "e"


def test_text_assembler_no_leading_separator():
    text = TextAssembler()
    text.on_block_start("m1")
    text.on_block_start("m2")
    assert text.on_text("m2", "x") == "x"


# --- replaying real turns -------------------------------------------------------------------


@pytest.mark.parametrize("name", SUCCESS_TURNS)
def test_stream_and_non_stream_carry_the_same_content(name):
    evs = events(name)
    completion = complete(evs)
    chunks = stream(evs)
    content = completion["choices"][0]["message"]["content"]
    assert content
    assert streamed_text(chunks) == content


@pytest.mark.parametrize("name", ["b_stream_json", "c_partial", "c_partial_thinking"])
def test_single_message_content_is_the_result_text(name):
    evs = events(name)
    _, result = first_turn(evs)
    assert complete(evs)["choices"][0]["message"]["content"] == result.text
    assert streamed_text(stream(evs)) == result.text


def test_thinking_is_not_content():
    content = complete(events("c_partial_thinking"))["choices"][0]["message"]["content"]
    assert "fake thinking" not in content
    assert "fake thinking" not in streamed_text(stream(events("c_partial_thinking")))


TOOL_LOOP_TEXT = (
    "I will read the file.\n\nHello from fake server. model=claude-opus-5-5 messages=4 request=2"
)


def test_tool_loop_messages_are_joined_by_a_blank_line():
    evs = events("k_tool_loop_partial")
    assert complete(evs)["choices"][0]["message"]["content"] == TOOL_LOOP_TEXT
    chunks = stream(evs)
    assert streamed_text(chunks) == TOOL_LOOP_TEXT
    # the separator travels at the start of the second message's first delta
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert contents == [
        "I will ",
        "read th",
        "e file.",
        "\n\nHello from fake server",
        ". model=claude-opus-5-",
        "5 messages=4 request=2",
    ]


def strip_api_message_ids(name: str) -> list:
    out = []
    for line in lines(name):
        obj = json.loads(line)
        obj.pop("api_message_id", None)
        out.append(event_from_line(json.dumps(obj)))
    return out


def test_tool_loop_blank_line_without_api_message_ids():
    # CLI 2.1.197 and older put no api_message_id on stream events; the streamed answer must
    # still separate the two messages, as the non-streamed one does.
    evs = strip_api_message_ids("k_tool_loop_partial")
    assert {e.message_id for e in evs if isinstance(e, TextDelta)} == {None}
    assert complete(evs)["choices"][0]["message"]["content"] == TOOL_LOOP_TEXT
    assert streamed_text(stream(evs)) == TOOL_LOOP_TEXT


def test_stall_fallback_answer_is_streamed():
    # After a 300 s stall the CLI abandons the streamed message and answers with a
    # non-streaming request: the answer arrives only as an `assistant` line, no deltas.
    evs = events("j_upstream_hang")
    answer = "Hello from fake server. model=claude-opus-5-5 messages=2 request=2"
    assert complete(evs)["choices"][0]["message"]["content"] == answer
    text = streamed_text(stream(evs))
    # the abandoned partial text was already sent and cannot be taken back
    assert text == "Hello from fake server" + BLOCK_SEPARATOR + answer


def test_non_partial_transcript_streams_its_assistant_text():
    # without stream events the assistant lines are the only source of text
    evs = events("b_stream_json")
    chunks = stream(evs)
    assert len(chunks) == 3  # role, the whole text, finish
    assert chunks[1]["choices"][0]["delta"] == {
        "content": "Hello from fake server. model=claude-opus-5-5 messages=2 request=1"
    }


def test_streamed_message_text_is_not_sent_twice():
    # the assistant line of a streamed message repeats the deltas: ignore it
    evs = events("c_partial")
    chunks = stream(evs)
    assert len(chunks) == 1 + 3 + 1
    assert streamed_text(chunks).count("Hello from fake server") == 1


def test_api_error_block_is_never_content():
    for name in ("i_429_max_retries_0", "i_401_forever", "n_no_api_key"):
        evs = events(name)
        assert complete(evs)["choices"][0]["message"]["content"] == ""
        assert streamed_text(stream(evs)) == ""


def test_interrupted_stream_text():
    evs = events("j_sigint_midstream")
    assert streamed_text(stream(evs)) == "01234567890123456789"
    assert complete(evs)["choices"][0]["message"]["content"] == "01234567890123456789"


@pytest.mark.parametrize("name", SUCCESS_TURNS)
def test_chunk_envelope(name):
    chunks = stream(events(name), include_usage=True)
    for chunk in chunks:
        assert chunk["id"] == CID
        assert chunk["created"] == CREATED
        assert chunk["model"] == MODEL
        assert chunk["object"] == "chat.completion.chunk"
        assert "system_fingerprint" not in chunk  # a string in the official spec, never null
    first = chunks[0]
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": None},
            "finish_reason": None,
            "logprobs": None,
        }
    ]
    assert first["usage"] is None
    *content, final, usage = chunks[1:]
    assert content
    for chunk in content:
        (choice,) = chunk["choices"]
        assert choice["finish_reason"] is None
        assert set(choice["delta"]) == {"content"}
        assert choice["delta"]["content"]
        assert chunk["usage"] is None
    assert final["choices"] == [
        {"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}
    ]
    assert final["usage"] is None
    assert usage["choices"] == []
    _, result = first_turn(events(name))
    assert usage["usage"] == usage_from_result(result.usage)
    assert usage["usage"]["completion_tokens"] == result.usage["output_tokens"]


def test_no_usage_chunk_without_include_usage():
    chunks = stream(events("c_partial"), include_usage=False)
    assert all(c["choices"] for c in chunks)
    # OpenAI's spec: `usage` is "only present when you set stream_options.include_usage".
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_completion_object():
    completion = complete(events("c_partial"))
    assert completion == {
        "id": CID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello from fake server. model=claude-opus-5-5 messages=2 request=1",
                    "refusal": None,
                    "annotations": [],
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage_from_result(events("c_partial")[-1].usage),
        "service_tier": "default",
    }
    assert completion["usage"]["prompt_tokens"] == 4418


def test_finish_reason_falls_back_to_the_last_message_delta():
    evs = [
        MessageStart("m1", "x"),
        BlockStart("m1", 0, "text"),
        TextDelta("m1", 0, "cut"),
        AssistantBlock("m1", "text", "cut"),
        MessageDelta("m1", "max_tokens"),
    ]
    result = result_with(stop_reason=None)
    builder = CompletionBuilder(CID, CREATED, MODEL)
    chunks = ChunkBuilder(CID, CREATED, MODEL)
    for e in evs:
        builder.feed(e)
        chunks.feed(e)
    assert builder.build(result)["choices"][0]["finish_reason"] == "length"
    assert chunks.finish(result)[0]["choices"][0]["finish_reason"] == "length"
    # the result's own stop reason wins
    result = result_with(stop_reason="tool_use")
    assert builder.build(result)["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks.finish(result)[0]["choices"][0]["finish_reason"] == "tool_calls"


# --- property: streaming and non-streaming agree -------------------------------------------

MESSAGE = st.lists(
    st.tuples(st.sampled_from(["text", "thinking", "tool_use"]), st.text(max_size=12)),
    max_size=3,
)


def synthetic_turn(messages, with_stream_events: list[bool]) -> list:
    """Events for a turn of several API messages, each streamed or not (fallback)."""
    out = []
    for n, (blocks, streamed) in enumerate(zip(messages, with_stream_events, strict=True)):
        mid = f"msg_{n}"
        if streamed:
            out.append(MessageStart(mid, "m"))
        for index, (kind, text) in enumerate(blocks):
            if streamed:
                out.append(BlockStart(mid, index, kind))
                if kind == "text":
                    out += [TextDelta(mid, index, text[i : i + 5]) for i in range(0, len(text), 5)]
            out.append(AssistantBlock(mid, kind, text if kind != "tool_use" else ""))
        if streamed:
            out.append(MessageDelta(mid, "end_turn"))
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_property_stream_equals_completion(data):
    messages = data.draw(st.lists(MESSAGE, min_size=1, max_size=4))
    flags = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    evs = synthetic_turn(messages, flags)
    result = result_with(stop_reason="end_turn")
    completion = CompletionBuilder(CID, CREATED, MODEL)
    chunks = ChunkBuilder(CID, CREATED, MODEL)
    streamed = []
    for e in evs:
        completion.feed(e)
        streamed += chunks.feed(e)
    content = completion.build(result)["choices"][0]["message"]["content"]
    assert streamed_text(streamed) == content
    texts = ["".join(t for k, t in blocks if k == "text") for blocks in messages]
    assert content == BLOCK_SEPARATOR.join(t for t in texts if t)
