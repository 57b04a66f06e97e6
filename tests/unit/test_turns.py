"""OpenAI chat messages -> hub turns (history as real turns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.turns import ChatTurns, turns_from_messages
from cli_bridge.protocol.blocks import ImageBlock
from cli_bridge.protocol.history_rules import check_tool_history


def call(ident: str, name: str = "get_weather", arguments: str = '{"city": "Paris"}') -> dict:
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def refused(messages: list[dict[str, Any]]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        turns_from_messages(messages)
    assert info.value.status == 400 and info.value.type == "invalid_request_error"
    return info.value


def test_plain_history_stays_as_sent() -> None:
    got = turns_from_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "input_text", "text": "and you?"}]},
        ]
    )
    assert got == ChatTurns(
        system="Be brief.\n\nUse French.",
        turns=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "and you?"}]},
        ],
    )


def test_tool_calls_and_results() -> None:
    got = turns_from_messages(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call("call_1"), call("call_2", arguments="")],
            },
            {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "7"}]},
            {"role": "user", "content": "thanks"},
        ]
    )
    assert got.system is None
    assert got.turns == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "content": [{"type": "text", "text": "7"}],
                },
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert check_tool_history(got.turns, [{"name": "get_weather"}]) is None


def test_assistant_text_and_tool_call_in_one_message_and_legacy_function_call() -> None:
    got = turns_from_messages(
        [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "refusal", "refusal": "no"},
                ],
                "function_call": {"name": "lookup", "arguments": '{"q": 1}'},
            },
            {"role": "function", "name": "lookup", "content": "found"},
        ]
    )
    assert got.turns[1]["content"] == [
        {"type": "text", "text": "checking"},
        {"type": "text", "text": "no"},
        {"type": "tool_use", "id": "call_legacy_1", "name": "lookup", "input": {"q": 1}},
    ]
    assert got.turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_legacy_1", "content": "found"}
    ]


def test_same_role_messages_merge_and_empty_assistant_is_dropped() -> None:
    got = turns_from_messages(
        [
            {"role": "user", "content": "a"},
            {"role": "user", "name": "bob", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d"},
            {"role": "assistant", "content": "e"},
        ]
    )
    assert got.turns == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
                {"type": "text", "text": "c"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "d"}, {"type": "text", "text": "e"}],
        },
    ]


def test_system_message_in_the_middle_is_rendered_in_a_user_turn() -> None:
    got = turns_from_messages(
        [
            {"role": "system", "content": "top"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "developer", "content": "now be formal"},
            {"role": "user", "content": "q2"},
            {"role": "system", "content": "after q2"},
        ]
    )
    assert got.system == "top"
    assert got.turns[2] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "<developer_message>\nnow be formal\n</developer_message>"},
            {"type": "text", "text": "q2"},
            {"type": "text", "text": "<system_message>\nafter q2\n</system_message>"},
        ],
    }


def test_images_go_through_the_converter() -> None:
    seen: list[str] = []

    def image(part: Mapping[str, Any], param: str) -> ImageBlock:
        seen.append(param)
        data = str(part["image_url"]["url"]).split(",", 1)[1]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": data},
        }

    parts = [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
    ]
    got = turns_from_messages([{"role": "user", "content": parts}], image=image)
    assert got.turns[0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"},
    }
    assert seen == ["messages.0.content.1"]
    # Without a converter an image part is refused, never silently dropped.
    assert refused([{"role": "user", "content": parts}]).param == "messages.0.content.1.type"


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "messages.0.content.0.type"),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": [{"type": "image_url"}]},
            ],
            "messages.1.content.0.type",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [call("c1"), call("c2", arguments="{bad")]},
            ],
            "messages.1.tool_calls.1.function.arguments",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [call("c", arguments="[1]")]},
            ],
            "messages.1.tool_calls.0.function.arguments",
        ),
        (
            [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call("c1")]}],
            "messages.1.tool_calls",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [call("c1")]},
                {"role": "user", "content": "no answer"},
            ],
            "messages.1.tool_calls",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "c9", "content": "r"},
            ],
            "messages.1.tool_call_id",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [call("c1")]},
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
                {"role": "tool", "tool_call_id": "c1", "content": "again"},
            ],
            "messages.3.tool_call_id",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"type": "custom"}]},
            ],
            "messages.1.tool_calls.0.type",
        ),
        ([{"role": "system", "content": "only"}], "messages"),
        ([{"role": "user", "content": "\ud800"}], "messages"),
        ([{"role": "user", "content": [{"type": "text"}]}], "messages.0.content.0"),
    ],
)
def test_refusals_name_the_part(messages: list[dict[str, Any]], param: str) -> None:
    assert refused(messages).param == param


def test_unanswered_calls_use_openai_wording() -> None:
    err = refused(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [call("c1"), call("c2")]},
        ]
    )
    assert err.message == (
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        "c1, c2"
    )
