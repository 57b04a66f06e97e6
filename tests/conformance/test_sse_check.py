"""The schemathesis SSE check rejects what it must (so a passing run means something)."""

from __future__ import annotations

import json

import pytest
import yaml

from conformance.schemathesis_checks import check_stream, data_payloads
from tests.contract import SPEC_PATH

SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def chunk(content: str = "hi", **changes: object) -> dict[str, object]:
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "opus",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return {**base, **changes}


def sse(*payloads: object) -> str:
    return (
        "".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads)
        + ": keep-alive\n\n"
    )


ERROR = {"error": {"message": "x", "type": "server_error", "param": None, "code": "timeout"}}


def test_a_good_stream_passes():
    payloads = check_stream(sse(chunk(), chunk("!"), ERROR, "[DONE]"), SPEC)
    assert len(payloads) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (sse(chunk()), r"did not end with \[DONE\]"),
        (sse(chunk(object="chat.completion"), "[DONE]"), "CreateChatCompletionStreamResponse"),
        (sse({"error": {"message": "x"}}, "[DONE]"), "StreamErrorPayload"),
        (sse(chunk(), chunk(id="chatcmpl-2"), "[DONE]"), "share id"),
        (sse(ERROR, chunk(), "[DONE]"), "must be the last payload"),
        (sse("not json", "[DONE]"), "not JSON"),
        (sse("[DONE]", chunk(), "[DONE]"), "must be the last event"),
    ],
)
def test_bad_streams_fail(text: str, message: str):
    with pytest.raises(AssertionError, match=message):
        check_stream(text, SPEC)


def test_a_stream_cut_short_need_not_end_with_done():
    check_stream(sse(chunk()), SPEC, complete=False)
    assert data_payloads("data: a\ndata: b\n\n: c\n\ndata:d\r\n\r\n") == ["a\nb", "d"]
