"""Anthropic Messages requests -> hub turns, tools and controls: every conversion and every
400. Pure, no processes."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.anthropic_messages.controls import controls_from_body, shows_thinking
from cli_bridge.formats.anthropic_messages.request import (
    image_converter,
    image_urls,
    input_from_messages,
)
from cli_bridge.formats.anthropic_messages.tools import tool_plan
from cli_bridge.formats.hub_turns import CONTINUE_PROMPT
from cli_bridge.formats.tools_common import ONE_CALL, REQUIRED
from cli_bridge.protocol.client_tools import ClientTool, ToolSet

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
TOOL = {"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}
TOOLS = ToolSet((ClientTool("get_weather", "w", '{"type":"object"}'),))


def refused(param: str, fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidRequest) as info:
        fn(*args, **kwargs)
    assert info.value.param == param, info.value.message
    return info.value.message


def test_text_system_blocks_and_turns():
    got = input_from_messages(
        [
            {"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "B"},
        ],
        [
            {"role": "system", "content": "C"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ],
    )
    assert got.system_prompt == "A\n\nB\n\nC"
    assert got.history == (
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    )
    assert got.prompt == "again"


def test_late_system_message_and_merged_turns():
    got = input_from_messages(
        None,
        [
            {"role": "user", "content": "one"},
            {"role": "system", "content": "late"},
            {"role": "user", "content": "two"},
        ],
    )
    assert got.history == ()
    assert got.prompt == [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "<system_message>\nlate\n</system_message>"},
        {"type": "text", "text": "two"},
    ]


def test_thinking_in_history_is_dropped_and_a_final_assistant_turn_is_continued():
    got = input_from_messages(
        "",
        [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "partial"},
                ],
            },
        ],
    )
    assert got.prompt == CONTINUE_PROMPT
    assert got.history[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "partial"}],
    }


def test_images_base64_and_url():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ],
        }
    ]
    assert image_urls(messages) == {"messages.0.content.2": "https://example.com/a.png"}
    fetched = {
        "messages.0.content.2": {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
        }
    }
    got = input_from_messages(None, messages, image=image_converter(fetched))  # type: ignore[arg-type]
    assert isinstance(got.prompt, list) and [b["type"] for b in got.prompt] == [
        "text",
        "image",
        "image",
    ]


def test_tool_history_goes_as_real_turns_with_prefixed_names():
    got = input_from_messages(
        None,
        [
            {"role": "user", "content": "weather"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "P"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "sunny"}],
                        "is_error": True,
                    }
                ],
            },
        ],
        tools=TOOLS,
    )
    assert got.history[-1]["content"] == [
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "mcp__client__get_weather",
            "input": {"city": "P"},
        }
    ]
    assert got.prompt == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "sunny"}],
            "is_error": True,
        }
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [{"role": "user", "content": [{"type": "document", "source": {}}]}],
            "messages.0.content.0.type",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_use", "id": "x", "name": "n", "input": {}}],
                }
            ],
            "messages.0.content.0.type",
        ),
        ([{"role": "user", "content": [{"type": "text"}]}], "messages.0.content.0.text"),
        ([{"role": "user", "content": [7]}], "messages.0.content.0"),
        ([{"role": "user", "content": 7}], "messages.0.content"),
        ([{"role": "user", "content": ""}], "messages.0.content"),
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "  "}],
            "messages.1.content",
        ),
        (
            [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}],
            "messages.0.role",
        ),
        ([{"role": "system", "content": "only"}], "messages"),
        (
            [{"role": "system", "content": [{"type": "image"}]}, {"role": "user", "content": "a"}],
            "messages.0.content.0.type",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                }
            ],
            "messages.0.content.0.source.type",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "nope"},
                        }
                    ],
                }
            ],
            "messages.0.content.0",
        ),
        ([{"role": "user", "content": [{"type": "image"}]}], "messages.0.content.0.source"),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image"}]}
                    ],
                }
            ],
            "messages.0.content.0.content.0.type",
        ),
        ([{"role": "user", "content": "\ud800"}], "messages"),
    ],
)
def test_refused_messages(messages: list[dict[str, Any]], param: str):
    refused(param, input_from_messages, None, messages)


def test_tool_blocks_without_tools_and_broken_tool_histories_are_the_apis_400():
    use = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
    }
    first = {"role": "user", "content": "q"}
    text = refused("messages", input_from_messages, None, [first, use, result])
    assert "must define tools" in text
    text = refused("messages", input_from_messages, None, [first, use, first], tools=TOOLS)
    assert "without `tool_result` blocks" in text
    refused(
        "messages.1.content.0.input",
        input_from_messages,
        None,
        [
            first,
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "n", "input": 3}],
            },
        ],
        tools=TOOLS,
    )
    refused(
        "messages.1.content.0",
        input_from_messages,
        None,
        [first, {"role": "user", "content": [{"type": "tool_result"}]}],
        tools=TOOLS,
    )
    refused("system.0.type", input_from_messages, [{"type": "image"}], [first])


def plan(history: bool = False, **body: Any) -> Any:
    return tool_plan(body, history)


def test_tool_choice_values():
    assert plan().tools is None
    auto = plan(tools=[TOOL])
    assert auto.tools is not None and auto.tools.permitted and auto.calls_surfaced
    assert plan(tools=[TOOL], tool_choice={"type": "none"}).tools is None
    withheld = plan(True, tools=[TOOL], tool_choice={"type": "none"}).tools
    assert withheld is not None and not withheld.permitted
    any_ = plan(tools=[TOOL], tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert any_.tools is not None and any_.tools.instructions == f"{REQUIRED} {ONE_CALL}"
    assert any_.single and any_.tools.one_call
    forced = plan(tools=[TOOL], tool_choice={"type": "tool", "name": "get_weather"})
    assert forced.forced == "get_weather" and forced.output_schema == '{"type":"object"}'
    assert forced.tools is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
        ({"tools": [{"name": "bad name"}]}, "tools.0.name"),
        ({"tools": [{"name": "a", "description": 3}]}, "tools.0.description"),
        ({"tools": [{"name": "a", "input_schema": {"type": "string"}}]}, "tools.0.input_schema"),
        ({"tools": [{"name": "a", "input_schema": "x"}]}, "tools.0.input_schema"),
        ({"tools": [TOOL, TOOL]}, "tools.1.name"),
        ({"tools": [7]}, "tools.0"),
        ({"tools": "x"}, "tools"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice.name"),
        ({"tools": [TOOL], "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"tools": [TOOL], "tool_choice": "auto"}, "tool_choice"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
    ],
)
def test_refused_tools(body: dict[str, Any], param: str):
    refused(param, tool_plan, body, False)


def test_controls():
    got = controls_from_body(
        {"max_tokens": 50, "stop_sequences": ["X", "", "X"], "output_config": {"effort": "high"}}
    )
    assert (got.max_output_tokens, got.stop, got.effort) == (50, ("X",), "high")
    assert controls_from_body({"max_tokens": 1, "temperature": 1, "top_k": 3}).stop == ()
    assert shows_thinking({"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert shows_thinking({"thinking": {"type": "adaptive"}})
    assert not shows_thinking({"thinking": {"type": "disabled"}}) and not shows_thinking({})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 5, "stop_sequences": [1]}, "stop_sequences"),
        ({"max_tokens": 5, "output_config": {"effort": "huge"}}, "output_config.effort"),
        ({"max_tokens": 5, "output_config": 3}, "output_config"),
        ({"max_tokens": 5, "output_format": {"type": "json_schema"}}, "output_format"),
        (
            {"max_tokens": 5, "output_config": {"format": {"type": "json_schema"}}},
            "output_config.format",
        ),
    ],
)
def test_refused_controls(body: dict[str, Any], param: str):
    refused(param, controls_from_body, body)
