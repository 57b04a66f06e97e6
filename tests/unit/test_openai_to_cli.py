"""openai_chat.request: chat messages -> system prompt, prior turns, one new user turn."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.request import (
    CONTINUE_PROMPT,
    CliInput,
    flattened_input,
    input_from_messages,
    text_from_content,
)
from cli_bridge.protocol.stdin import user_line


def user(content, **extra):
    return {"role": "user", "content": content, **extra}


def text(*texts):
    return [{"type": "text", "text": t} for t in texts]


def prompt_text(prompt):
    """The new turn's text, whether it is a string or text blocks."""
    return prompt if isinstance(prompt, str) else "\n".join(b["text"] for b in prompt)


def test_single_user_message_is_the_prompt_verbatim():
    assert input_from_messages([user("Hello there!\n  with  spaces ")]) == CliInput(
        system_prompt=None, prompt="Hello there!\n  with  spaces "
    )


def test_system_and_developer_become_the_system_prompt_in_order():
    cli = input_from_messages(
        [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": "Answer in French."},
            user("hi"),
            {"role": "system", "content": "Late rule."},
        ]
    )
    assert cli.system_prompt == "Be terse.\n\nAnswer in French."
    # A system message after the first turn is rendered in the user turn it follows.
    assert cli.prompt == text("hi", "<system_message>\nLate rule.\n</system_message>")
    assert cli.history == () and not cli.flattened


def test_empty_system_messages_are_skipped():
    cli = input_from_messages(
        [{"role": "system", "content": ""}, {"role": "system", "content": None}, user("x")]
    )
    assert cli.system_prompt is None


def test_system_prompt_from_parts():
    cli = input_from_messages(
        [
            {
                "role": "system",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            user("x"),
        ]
    )
    assert cli.system_prompt == "a\nb"


def test_multi_turn_history_arrives_as_real_turns_and_the_last_user_text_is_the_prompt():
    cli = input_from_messages(
        [
            {"role": "system", "content": "sys"},
            user("first question"),
            {"role": "assistant", "content": "first answer"},
            user("second question"),
            {"role": "assistant", "content": "second answer"},
            user("final question"),
        ]
    )
    assert cli == CliInput(
        system_prompt="sys",
        prompt="final question",
        history=(
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"},
            {"role": "assistant", "content": "second answer"},
        ),
    )


def test_conversation_ending_with_assistant_asks_to_continue():
    cli = input_from_messages([user("hi"), {"role": "assistant", "content": "Hello"}])
    assert cli.history == (
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello"},
    )
    assert (
        cli.prompt
        == CONTINUE_PROMPT
        == ("Continue the conversation: write the next assistant message.")
    )


def test_names_have_no_place_in_a_turn():
    cli = input_from_messages([user("hi", name="alice")])
    assert (cli.prompt, cli.history) == ("hi", ())


def test_array_content_text_and_input_text_parts():
    cli = input_from_messages(
        [
            user(
                [
                    {"type": "text", "text": "part one"},
                    {"type": "input_text", "text": "part two"},
                ]
            )
        ]
    )
    assert cli.prompt == text("part one", "part two")


def test_output_text_and_refusal_parts_in_history():
    cli = input_from_messages(
        [
            user("q"),
            {
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "said"},
                    {"type": "refusal", "refusal": "won't"},
                ],
            },
            user("next"),
        ]
    )
    assert cli.history[1] == {"role": "assistant", "content": text("said", "won't")}


def test_null_content():
    assert text_from_content(None, "p") == ""
    cli = input_from_messages(
        [
            user("q"),
            {"role": "assistant", "content": None},
            user("again"),
        ]
    )
    # An empty assistant message carries nothing: the user turns around it become one.
    assert (cli.history, cli.prompt) == ((), text("q", "again"))


def test_assistant_tool_calls_and_tool_results_are_rendered():
    cli = input_from_messages(
        [
            user("weather?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
            user("and tomorrow?"),
        ]
    )
    assert (
        '<assistant>\n<tool_call id="call_1" name="get_weather">{"city":"Paris"}</tool_call>\n'
        "</assistant>"
    ) in cli.prompt
    assert '<tool_result tool_call_id="call_1">\nsunny, 21C\n</tool_result>' in cli.prompt
    assert (
        cli.prompt.index("get_weather")
        < cli.prompt.index("sunny")
        < cli.prompt.index("and tomorrow?")
    )


def test_assistant_text_and_legacy_function_call():
    cli = input_from_messages(
        [
            user("q"),
            {
                "role": "assistant",
                "content": "Let me look.",
                "function_call": {"name": "lookup", "arguments": "{}"},
            },
            {"role": "function", "name": "lookup", "content": "found"},
            user("ok"),
        ]
    )
    assert '<assistant>\nLet me look.\n<tool_call name="lookup">{}</tool_call>\n</assistant>' in (
        cli.prompt
    )
    assert '<tool_result tool_call_id="lookup">\nfound\n</tool_result>' in cli.prompt


def test_last_message_is_a_tool_result():
    cli = input_from_messages(
        [
            user("q"),
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"},
        ]
    )
    assert '<tool_result tool_call_id="c">\n42\n</tool_result>' in cli.prompt
    assert cli.prompt.endswith("write the next assistant message.")


def test_names_are_json_quoted_in_the_flattened_rendering():
    cli = flattened_input([user('a"b', name='x" y'), user("go")])
    assert '<user name="x\\" y">\na"b\n</user>' in cli.prompt


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, "type"),
        ({"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}, "type"),
        ({"type": "file", "file": {}}, "type"),
    ],
)
def test_unsupported_part_types(part, param):
    with pytest.raises(InvalidRequest) as info:
        input_from_messages([user([{"type": "text", "text": "look"}, part])])
    assert info.value.param == f"messages.0.content.1.{param}"
    assert info.value.status == 400
    assert part["type"] in info.value.message


def test_unsupported_part_in_history_and_system_names_its_index():
    with pytest.raises(InvalidRequest) as info:
        input_from_messages(
            [
                user("a"),
                {"role": "assistant", "content": "b"},
                user([{"type": "image_url"}]),
                user("c"),
            ]
        )
    assert info.value.param == "messages.2.content.0.type"
    with pytest.raises(InvalidRequest) as info:
        input_from_messages([{"role": "system", "content": [{"type": "image_url"}]}, user("c")])
    assert info.value.param == "messages.0.content.0.type"


@pytest.mark.parametrize(
    ("content", "param"),
    [
        ([{"type": "text"}], "messages.0.content.0"),
        ([{"type": "text", "text": 5}], "messages.0.content.0"),
        ([{"type": "refusal", "text": "x"}], "messages.0.content.0.type"),
        (["plain"], "messages.0.content.0"),
        (5, "messages.0.content"),
        ({"type": "text", "text": "x"}, "messages.0.content"),
    ],
)
def test_bad_content_shapes(content, param):
    with pytest.raises(InvalidRequest) as info:
        input_from_messages([user(content)])
    assert info.value.param == param


def test_only_system_messages():
    with pytest.raises(InvalidRequest) as info:
        input_from_messages(
            [{"role": "system", "content": "s"}, {"role": "developer", "content": "d"}]
        )
    assert info.value.param == "messages"


def test_no_messages():
    with pytest.raises(InvalidRequest) as info:
        input_from_messages([])
    assert info.value.param == "messages"


@pytest.mark.parametrize("content", ["", "   \n\t", None, [{"type": "text", "text": ""}], []])
def test_empty_last_content(content):
    with pytest.raises(InvalidRequest) as info:
        input_from_messages([{"role": "system", "content": "s"}, user(content)])
    assert info.value.param == "messages.1.content"


def test_lone_surrogate_is_a_client_error():
    # `"\ud800"` is valid JSON, but such text cannot be written to the CLI as UTF-8.
    for messages in (
        [user("bad \ud800 text")],
        [{"role": "system", "content": "\udfff"}, user("ok")],
        [
            user("q"),
            {
                "role": "assistant",
                "tool_calls": [{"function": {"name": "f", "arguments": "\ud83d"}}],
            },
            user("ok"),
        ],
    ):
        with pytest.raises(InvalidRequest) as info:
            input_from_messages(messages)
        assert info.value.param == "messages"
    # a proper surrogate pair decoded by json is an ordinary character
    cli = input_from_messages([user(json.loads('"\\ud83d\\ude00"'))])
    assert cli.prompt == "😀"


# --- the stdin line -------------------------------------------------------------------------


def test_stdin_line_shape():
    line = user_line("héllo — 世界 😀\nsecond line")
    assert isinstance(line, bytes)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # one JSON line: the prompt's newline is escaped
    assert json.loads(line) == {
        "type": "user",
        "message": {"role": "user", "content": "héllo — 世界 😀\nsecond line"},
    }
    assert "世界 😀".encode() in line  # unicode kept, not \u-escaped


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_stdin_line_round_trips(prompt):
    line = user_line(prompt)
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert b"\r" not in line
    assert json.loads(line.decode("utf-8"))["message"]["content"] == prompt


# --- property: well-formed messages convert or are refused as InvalidRequest -----------------

ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])
WELL_FORMED = st.fixed_dictionaries(
    {"role": ROLES, "content": st.none() | st.text(max_size=30)},
    optional={"name": st.text(max_size=8), "tool_call_id": st.text(max_size=8)},
)


@settings(max_examples=500, deadline=None)
@given(st.lists(WELL_FORMED, max_size=8))
def test_property_convert_or_invalid_request(messages):
    try:
        cli = input_from_messages(messages)
    except InvalidRequest as exc:
        assert exc.status == 400
        assert exc.param is not None
        return
    assert prompt_text(cli.prompt).strip()
    assert cli.system_prompt is None or cli.system_prompt
    user_line(cli.prompt)
    told = "\n".join(
        [cli.system_prompt or "", prompt_text(cli.prompt)]
        + [prompt_text(t["content"]) for t in cli.history]
    )
    for m in messages:
        if m["content"] and m["content"].strip():  # blank text is left out on purpose
            assert m["content"] in told


def test_tool_bearing_or_assistant_first_conversations_keep_the_text_rendering():
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    for messages in (
        [user("q"), {"role": "assistant", "tool_calls": [call]}, user("x")],
        [
            user("q"),
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c", "content": "42"},
            user("ok"),
        ],
        [{"role": "assistant", "content": "Welcome!"}, user("hi")],
    ):
        cli = input_from_messages(messages)
        assert cli.flattened and cli.history == ()
        assert isinstance(cli.prompt, str)
        assert cli.prompt.startswith("<conversation_history>\n")
    plain = input_from_messages([user("q"), {"role": "assistant", "content": "a"}, user("x")])
    assert not plain.flattened


def test_blank_text_is_left_out_and_a_blank_turn_keeps_the_text_rendering():
    cli = input_from_messages(
        [
            user([{"type": "text", "text": " "}, {"type": "text", "text": "q"}]),
            {"role": "assistant", "content": "a"},
            user(text("", "x")),
        ]
    )
    assert cli.history[0] == {"role": "user", "content": text("q")}
    assert cli.prompt == "x"  # one text block goes as its text
    blank = input_from_messages([user(" "), {"role": "assistant", "content": "a"}, user("x")])
    assert blank.flattened and blank.history == ()
