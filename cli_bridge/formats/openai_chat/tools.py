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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...engine.structured import canonical_schema, schema_problem
from ...errors import InvalidRequest
from ...protocol.client_tools import MAX_CLIENT_NAME, ClientTool, ToolSet
from .structured import output_schema

NAME = re.compile(rf"^[a-zA-Z0-9_-]{{1,{MAX_CLIENT_NAME}}}$")
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
REQUIRED = "Every reply must call at least one of the tools of this server."
ONE_CALL = "Call at most one tool per reply."


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """How a chat request's tools are offered and its answer shaped.

    `tools`: the CLI's ToolSet (None: no tools offered). `output_schema`: the structured
    output schema (`response_format`'s, or the forced function's parameters). `forced`: the
    function `tool_choice` names; the structured answer is returned as one call of it.
    `single`: surface only the first client tool call of an answer."""

    tools: ToolSet | None = None
    output_schema: str | None = None
    forced: str | None = None
    single: bool = False

    @property
    def calls_surfaced(self) -> bool:
        """Whether the model's calls of the client's tools become `tool_calls`."""
        return self.tools is not None and self.tools.permitted


NO_TOOLS = ToolPlan()


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
    name = fn.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidRequest(
            f"function names must match ^[a-zA-Z0-9_-]{{1,{MAX_CLIENT_NAME}}}$ (the CLI "
            f"prefixes them with mcp__client__ within the upstream's 64 characters)",
            param=f"{where}.function.name",
        )
    description = fn.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(
            "`description` must be a string", param=f"{where}.function.description"
        )
    parameters = fn.get("parameters")
    if parameters is None:
        parameters = NO_PARAMETERS
    if not isinstance(parameters, dict):
        raise InvalidRequest(
            "function parameters must be a JSON Schema object",
            param=f"{where}.function.parameters",
        )
    # The root type spelled out: the upstream's input_schema and MCP's inputSchema want it.
    schema = {"type": "object", **parameters}
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidRequest(
            f"function parameters: {problem}", param=f"{where}.function.parameters"
        )
    return ClientTool(name, description or "", canonical_schema(schema))


def client_tools(value: object) -> tuple[ClientTool, ...]:
    """The request's `tools` as ClientTools (400 naming the first bad entry)."""
    if not isinstance(value, list):
        raise InvalidRequest("`tools` must be an array", param="tools")
    tools: list[ClientTool] = []
    for i, entry in enumerate(value):
        tool = _function(entry, i)
        if any(t.name == tool.name for t in tools):
            raise InvalidRequest(
                f"function name `{tool.name}` is used by more than one tool",
                param=f"tools.{i}.function.name",
            )
        tools.append(tool)
    return tuple(tools)


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
    lines = [REQUIRED] if choice == "required" else []
    if single:
        lines.append(ONE_CALL)
    offered = ToolSet(tools, instructions=" ".join(lines) or None, one_call=single)
    return ToolPlan(offered, single=single)


def _with_tools(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"structured output (`response_format`) is not supported together with {what}",
        param="response_format",
    )
