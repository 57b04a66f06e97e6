"""OpenAI `tools` / `tool_choice` / `parallel_tool_calls` -> what the CLI is started with.

The client's function tools reach the model through the proxy's MCP server (a `ToolSet`,
protocol/client_tools.py). `tool_choice` has no CLI flag, so each value is approximated:

- `auto` (or absent): the tools are offered and the model may call them;
- `none`: the tools are not offered, unless the history holds tool calls or results (the
  Messages API refuses those without tools): then they are offered with every call refused;
- `required`: the MCP server's instructions (which Claude Code puts in the model's system
  prompt) ask for a call in every reply: a strong hint, not a guarantee;
- a named function: answered through structured output (engine/structured.py) with the
  function's parameters as the schema, so the answer is always one call of that function.

`parallel_tool_calls: false` adds an instruction to call at most one tool, and only the
first call of an answer is surfaced (`ToolSet.one_call`: the engine answers the others
itself). Pure functions over the validated body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import InvalidRequest
from ...protocol.client_tools import ClientTool, ToolSet
from ..tools_common import (
    NO_TOOLS,
    ONE_CALL,
    REQUIRED,
    ToolPlan,
    checked_tool,
    offered,
    tool_list,
)
from .structured import output_schema

__all__ = ["NO_TOOLS", "ONE_CALL", "REQUIRED", "ToolPlan", "client_tools", "tool_plan"]


def _function(entry: object, i: int) -> ClientTool:
    where = f"tools.{i}"
    if not isinstance(entry, dict) or entry.get("type") != "function":
        kind = entry.get("type") if isinstance(entry, dict) else None
        raise InvalidRequest(
            f"tool type `{kind}` is not supported by this proxy; send `function` tools",
            param=f"{where}.type",
        )
    fn = entry.get("function")
    if not isinstance(fn, dict):
        raise InvalidRequest("a function tool needs a `function` object", param=f"{where}.function")
    return checked_tool(
        fn.get("name"),
        fn.get("description"),
        fn.get("parameters"),
        name_param=f"{where}.function.name",
        description_param=f"{where}.function.description",
        schema_param=f"{where}.function.parameters",
    )


def client_tools(value: object) -> tuple[ClientTool, ...]:
    """The request's `tools` as ClientTools (400 naming the first bad entry)."""
    return tool_list(value, _function, "function.name")


def _forced_name(choice: Mapping[str, Any]) -> str | None:
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if choice.get("type") == "function" and isinstance(name, str) else None


def _bad_choice(why: str) -> InvalidRequest:
    return InvalidRequest(f"`tool_choice`: {why}", param="tool_choice")


def tool_plan(body: Mapping[str, Any], tool_history: bool) -> ToolPlan:
    """The request's ToolPlan; `tool_history`: the messages hold tool calls or results.
    Raises InvalidRequest naming `tools…`, `tool_choice` or `response_format`."""
    schema = output_schema(body.get("response_format"))
    given, choice = body.get("tools"), body.get("tool_choice")
    if given is None or given == []:
        if choice is not None:
            raise _bad_choice("only allowed when `tools` are specified")
        if body.get("parallel_tool_calls") is not None:  # as OpenAI answers it
            raise InvalidRequest(
                "`parallel_tool_calls` is only allowed when `tools` are specified",
                param="parallel_tool_calls",
            )
        return ToolPlan(output_schema=schema)
    tools = client_tools(given)
    withheld = ToolSet(tools, permitted=False) if tool_history else None
    if choice == "none":
        return ToolPlan(withheld, schema)
    if isinstance(choice, dict) and (forced := _forced_name(choice)) is not None:
        tool = next((t for t in tools if t.name == forced), None)
        if tool is None:
            raise _bad_choice(f"function `{forced}` is not one of `tools`")
        if schema is not None:
            raise _with_tools("a forced function")
        return ToolPlan(withheld, tool.parameters, forced)
    if choice not in (None, "auto", "required"):
        raise _bad_choice(
            'send "none", "auto", "required" or {"type": "function", "function": {"name": …}}'
        )
    if schema is not None:
        raise _with_tools("tools")
    single = body.get("parallel_tool_calls") is False
    return offered(tools, required=choice == "required", single=single)


def _with_tools(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"structured output (`response_format`) is not supported together with {what}",
        param="response_format",
    )
