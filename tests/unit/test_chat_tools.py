"""Client tools on the chat surface, request side: `tools` / `tool_choice` /
`parallel_tool_calls` -> ToolPlan, and tool histories as real turns. Pure, no processes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.request import has_tool_messages, input_from_messages
from cli_bridge.formats.openai_chat.tools import ONE_CALL, REQUIRED, ToolPlan, tool_plan
from cli_bridge.formats.tools_common import check_tool_turns
from cli_bridge.protocol.client_tools import MAX_CLIENT_NAME, ClientTool, ToolSet
from handlers.api.chat import chat_input

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def fn(name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **extra}}


def plan(history: bool = False, **body: Any) -> ToolPlan:
    return tool_plan(body, history)


def refused(body: dict[str, Any], history: bool = False) -> str | None:
    with pytest.raises(InvalidRequest) as info:
        tool_plan(body, history)
    assert info.value.status == 400
    return info.value.param


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def call(ident: str, name: str = "get_weather", arguments: str = '{"city": "Paris"}') -> Any:
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool(ident: str, content: Any = "18C") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": ident, "content": content}


AGENT_LOOP = [
    {"role": "system", "content": "Be brief."},
    user("Weather in Paris and Rome?"),
    {"role": "assistant", "content": None, "tool_calls": [call("c1"), call("c2")]},
    tool("c1", "18C"),
    tool("c2", [{"type": "text", "text": "21"}, {"type": "text", "text": "C"}]),
]


# --- tools -> ToolSet ------------------------------------------------------------------------


def test_tools_become_a_tool_set_with_canonical_parameters():
    got = plan(tools=[fn(description="Weather now", parameters={"required": ["city"], **WEATHER})])
    assert got.tools is not None
    (weather,) = got.tools.tools
    assert weather == ClientTool("get_weather", "Weather now", weather.parameters)
    assert weather.parameters == json.dumps(
        WEATHER, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert got.tools.permitted and got.tools.instructions is None
    assert got.output_schema is None and got.forced is None and not got.single
    assert got.calls_surfaced


def test_parameters_default_to_an_empty_object_schema_and_description_to_empty():
    (t,) = plan(tools=[fn("ping")]).tools.tools
    assert t.description == ""
    assert json.loads(t.parameters) == {"type": "object", "properties": {}}
    (t,) = plan(tools=[fn("ping", parameters=None, description=None)]).tools.tools
    assert t.description == ""


def test_parameters_without_type_get_an_object_root():
    schema = {"properties": {"x": {"type": "integer"}}}
    (t,) = plan(tools=[fn(parameters=schema)]).tools.tools
    assert json.loads(t.parameters) == {"type": "object", **schema}


def test_no_tools_is_no_tool_set():
    assert plan() == ToolPlan()
    assert plan(tools=None, tool_choice=None) == ToolPlan()
    assert plan(tools=[]) == ToolPlan()
    assert not ToolPlan().calls_surfaced


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ("get_weather", "tools"),
        ([{"type": "custom", "custom": {"name": "x"}}], "tools.0.type"),
        ([fn(), {"type": "web_search"}], "tools.1.type"),
        (["get_weather"], "tools.0.type"),
        ([{"type": "function"}], "tools.0.function"),
        ([fn("")], "tools.0.function.name"),
        ([fn("has space")], "tools.0.function.name"),
        ([fn("dot.name")], "tools.0.function.name"),
        ([fn("x" * (MAX_CLIENT_NAME + 1))], "tools.0.function.name"),
        ([{"type": "function", "function": {"name": 7}}], "tools.0.function.name"),
        ([fn(), fn("other"), fn()], "tools.2.function.name"),
        ([fn(parameters=[])], "tools.0.function.parameters"),
        ([fn(parameters="{}")], "tools.0.function.parameters"),
        ([fn(parameters={"type": "string"})], "tools.0.function.parameters"),
        ([fn(parameters={"type": "object", "properties": 3})], "tools.0.function.parameters"),
        ([fn(description=3)], "tools.0.function.description"),
    ],
)
def test_bad_tools_are_a_400_naming_the_entry(tools, param):
    assert refused({"tools": tools}) == param


def test_the_longest_name_is_accepted():
    name = "a" * MAX_CLIENT_NAME
    assert plan(tools=[fn(name)]).tools.names() == {name}


# --- tool_choice -----------------------------------------------------------------------------


def test_auto_and_absent_permit_the_tools():
    for choice in (None, "auto"):
        got = plan(tools=[fn()], tool_choice=choice)
        assert got.tools is not None and got.tools.permitted
        assert got.tools.instructions is None


def test_none_offers_no_tools_without_a_tool_history():
    got = plan(tools=[fn()], tool_choice="none")
    assert got.tools is None and not got.calls_surfaced


def test_none_with_a_tool_history_offers_them_with_every_call_refused():
    got = plan(True, tools=[fn()], tool_choice="none")
    assert got.tools is not None and not got.tools.permitted
    assert not got.calls_surfaced


def test_required_is_the_servers_instructions():
    got = plan(tools=[fn()], tool_choice="required")
    assert got.tools is not None and got.tools.instructions == REQUIRED
    assert got.tools.permitted


def test_parallel_false_asks_for_one_call_and_surfaces_the_first():
    got = plan(tools=[fn()], parallel_tool_calls=False)
    assert got.single and got.tools is not None and got.tools.instructions == ONE_CALL
    assert got.tools.one_call
    both = plan(tools=[fn()], tool_choice="required", parallel_tool_calls=False)
    assert both.tools is not None and both.tools.instructions == f"{REQUIRED} {ONE_CALL}"
    assert not plan(tools=[fn()], parallel_tool_calls=True).single
    assert not plan(tools=[fn()], parallel_tool_calls=True).tools.one_call
    assert not plan(tools=[fn()], parallel_tool_calls=None).single


def test_a_named_function_is_structured_output_of_its_parameters():
    named = {"type": "function", "function": {"name": "get_weather"}}
    got = plan(tools=[fn("other"), fn(parameters=WEATHER)], tool_choice=named)
    assert got.forced == "get_weather"
    assert got.output_schema == json.dumps(WEATHER, sort_keys=True, separators=(",", ":"))
    assert got.tools is None  # no tool history: nothing else to offer
    assert not got.calls_surfaced
    with_history = plan(True, tools=[fn(parameters=WEATHER)], tool_choice=named)
    assert with_history.tools is not None and not with_history.tools.permitted
    assert with_history.forced == "get_weather"


def test_a_named_function_without_type_gets_an_object_root():
    named = {"type": "function", "function": {"name": "f"}}
    got = plan(tools=[fn("f", parameters={"properties": {}})], tool_choice=named)
    assert json.loads(got.output_schema or "") == {"type": "object", "properties": {}}
    bare = plan(tools=[fn("f")], tool_choice=named)
    assert json.loads(bare.output_schema or "") == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    "choice",
    [
        "sometimes",
        {"type": "function", "function": {"name": "missing"}},
        {"type": "function"},
        {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [fn()]}},
        {"type": "custom", "custom": {"name": "get_weather"}},
        {"type": "function", "function": {"name": 3}},
        ["auto"],
    ],
)
def test_other_tool_choices_are_a_400(choice):
    assert refused({"tools": [fn()], "tool_choice": choice}) == "tool_choice"


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_without_tools_is_a_400(choice):
    assert refused({"tool_choice": choice}) == "tool_choice"
    assert refused({"tools": [], "tool_choice": choice}) == "tool_choice"


# --- with response_format --------------------------------------------------------------------

JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}}


@pytest.mark.parametrize("choice", [None, "auto", "required"])
@pytest.mark.parametrize("response_format", [JSON_SCHEMA, {"type": "json_object"}])
def test_structured_output_with_offered_tools_is_a_400(choice, response_format):
    body = {"tools": [fn()], "tool_choice": choice, "response_format": response_format}
    assert refused(body) == "response_format"


def test_structured_output_with_a_named_function_is_a_400():
    named = {"type": "function", "function": {"name": "get_weather"}}
    body = {"tools": [fn()], "tool_choice": named, "response_format": JSON_SCHEMA}
    assert refused(body) == "response_format"


def test_structured_output_with_tool_choice_none_keeps_the_schema():
    for history in (False, True):
        got = plan(history, tools=[fn()], tool_choice="none", response_format=JSON_SCHEMA)
        assert json.loads(got.output_schema or "") == WEATHER
        assert not got.calls_surfaced
    assert plan(response_format={"type": "text"}, tools=[fn()]).output_schema is None
    assert refused({"response_format": {"type": "json_schema", "json_schema": {}}}) == (
        "response_format"
    )


# --- history ---------------------------------------------------------------------------------

TOOLS = ToolSet((ClientTool("get_weather", "", '{"type":"object"}'),))


def test_has_tool_messages():
    assert has_tool_messages(AGENT_LOOP)
    assert has_tool_messages([user("q"), {"role": "assistant", "tool_calls": [call("c")]}])
    assert has_tool_messages([{"role": "function", "name": "f", "content": "1"}])
    assert not has_tool_messages([user("q"), {"role": "assistant", "content": "a"}])
    assert not has_tool_messages([user("q"), {"role": "assistant", "tool_calls": []}])


def test_an_agent_loop_goes_as_real_turns_the_tool_results_being_the_new_turn():
    cli = input_from_messages(AGENT_LOOP, tools=TOOLS)
    assert not cli.flattened
    assert cli.system_prompt == "Be brief."
    assert cli.history == (
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": ident,
                    "name": "mcp__client__get_weather",
                    "input": {"city": "Paris"},
                }
                for ident in ("c1", "c2")
            ],
        },
    )
    assert cli.prompt == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
        {
            "type": "tool_result",
            "tool_use_id": "c2",
            "content": [{"type": "text", "text": "21"}, {"type": "text", "text": "C"}],
        },
    ]


def test_a_user_message_after_the_tool_results_joins_the_new_turn():
    cli = input_from_messages([*AGENT_LOOP, user("And in Oslo?")], tools=TOOLS)
    assert isinstance(cli.prompt, list)
    assert [b["type"] for b in cli.prompt] == ["tool_result", "tool_result", "text"]
    assert cli.prompt[-1] == {"type": "text", "text": "And in Oslo?"}
    assert len(cli.history) == 2


def test_an_answered_loop_is_history_and_the_last_user_message_the_new_turn():
    messages = [*AGENT_LOOP, {"role": "assistant", "content": "18C and 21C."}, user("Thanks")]
    cli = input_from_messages(messages, tools=TOOLS)
    assert cli.prompt == "Thanks"
    assert [t["role"] for t in cli.history] == ["user", "assistant", "user", "assistant"]
    assert cli.history[2]["content"][0]["type"] == "tool_result"


def test_without_offered_tools_a_tool_history_keeps_the_text_rendering():
    cli = input_from_messages(AGENT_LOOP)
    assert cli.flattened and cli.history == ()
    assert isinstance(cli.prompt, str) and "get_weather" in cli.prompt
    assert "mcp__client__" not in cli.prompt


def test_bad_arguments_in_history_are_a_400_naming_them():
    messages = [user("q"), {"role": "assistant", "tool_calls": [call("c", arguments="[1]")]}]
    messages.append(tool("c"))
    with pytest.raises(InvalidRequest) as info:
        input_from_messages(messages, tools=TOOLS)
    assert info.value.param == "messages.1.tool_calls.0.function.arguments"


def test_a_history_the_upstream_would_refuse_is_a_400_naming_messages():
    turns: list[Any] = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c", "name": "x", "input": {}}],
        },
        {"role": "user", "content": "no result"},
    ]
    with pytest.raises(InvalidRequest) as info:
        check_tool_turns(turns, TOOLS)
    assert info.value.param == "messages"
    assert "tool_result" in info.value.message
    check_tool_turns([turns[0]], TOOLS)  # no tool blocks: nothing to refuse


def test_chat_input_carries_the_plan():
    got = plan(tools=[fn()])
    given = chat_input(AGENT_LOOP, plan=got)
    assert given.tools is got.tools
    assert given.continuable and isinstance(given.prompt, list)
    forced = plan(
        tools=[fn(parameters=WEATHER)],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert chat_input([user("hi")], plan=forced).output_schema == forced.output_schema
