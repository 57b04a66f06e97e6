"""Fuzz the OpenAI -> CLI message converter and the size limits: any schema-shaped message
list gives a CliInput or an InvalidRequest naming a `param`, never another exception or a
hang."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.request import CliInput, input_from_messages
from cli_bridge.protocol.stdin import user_line
from cli_bridge.protocol.transcript import render_transcript
from handlers.limits import check_messages, text_size

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
PART_TYPES = ["text", "input_text", "output_text", "refusal", "image_url", "input_audio", "file"]
FLAGGY = ["--tools", "-p", "--dangerously-skip-permissions", "--", "-", "--model=x", "\x00"]
text = st.text(max_size=40) | st.sampled_from(FLAGGY)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(PART_TYPES) | text},
    optional={"text": text | json_values, "refusal": text | json_values},
)
content = st.none() | text | st.lists(parts | json_values, max_size=4) | json_values
tool_calls = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("function")},
        optional={
            "id": text | json_values,
            "function": st.fixed_dictionaries({}, optional={"name": text, "arguments": text})
            | json_values,
        },
    )
    | json_values,
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(ROLES)},
        optional={
            "content": content,
            "name": text | json_values,
            "tool_calls": tool_calls,
            "tool_call_id": text | json_values,
            "function_call": st.fixed_dictionaries({}, optional={"name": text, "arguments": text})
            | json_values,
        },
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(messages)
def test_converter_accepts_or_names_the_field(msgs: list[dict[str, Any]]) -> None:
    try:
        result = input_from_messages(msgs)
    except InvalidRequest as exc:
        assert exc.status == 400
        assert exc.param is None or exc.param.startswith("messages")
        return
    assert isinstance(result, CliInput)
    prompt = result.prompt
    assert (prompt if isinstance(prompt, str) else "".join(str(b) for b in prompt)).strip()
    line = json.loads(user_line(prompt))
    assert line["message"]["content"] == prompt
    # Real turns alternate, start with the user, and the new turn follows an assistant one.
    roles = [turn["role"] for turn in result.history]
    assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2)
    assert not result.flattened or roles == []
    if roles:
        assert roles[-1] == "assistant" and not result.flattened
    # The transcript a fresh CLI resumes holds exactly these turns, one JSON line each.
    text = render_transcript(result.history, session_id="s", cwd="/w", version="v", model="m")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(result.history)
    for line, turn in zip(lines, result.history, strict=True):
        content = line["message"]["content"]
        if turn["role"] == "assistant" and isinstance(turn["content"], str):
            assert content == [{"type": "text", "text": turn["content"]}]
        else:
            assert content == turn["content"]


@FUZZ
@given(messages, st.integers(1, 8), st.integers(1, 200))
def test_limits_accept_or_name_the_message(
    msgs: list[dict[str, Any]], max_messages: int, max_chars: int
) -> None:
    try:
        check_messages(msgs, max_messages=max_messages, max_chars=max_chars)
    except InvalidRequest as exc:
        assert exc.param == "messages" or exc.param.startswith("messages.")
        if exc.param == "messages":
            assert len(msgs) > max_messages
        else:
            index = int(exc.param.split(".")[1])
            assert text_size(msgs[index]) > max_chars
        return
    assert len(msgs) <= max_messages
    assert all(text_size(m) <= max_chars for m in msgs)
