"""Anthropic `tools` / `tool_choice` -> the ToolPlan the CLI is started with.

Custom tools (`name`, `description`, `input_schema`; `type` absent or `custom`) reach the
model through the proxy's MCP server, as every surface's do (formats/tools_common.py).
Server tools and Anthropic-defined client tools (`web_search_…`, `bash_…`, `text_editor_…`)
are a 400 `tools.N.type`: the proxy cannot run them as the API would. `tool_choice`:

- `auto` (or absent): the tools are offered and the model may call them;
- `none`: not offered, unless the history holds tool blocks (then offered, every call refused);
- `any`: the MCP server's instructions ask for a call in every reply (a strong hint);
- `{"type": "tool", "name": X}`: answered through structured output with X's `input_schema`,
  so the answer is always one `tool_use` of X (its id the proxy's own);
- `disable_parallel_tool_use: true`: one call per reply asked for, and only the first surfaced.
Pure functions over the validated body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import InvalidRequest
from ...protocol.client_tools import ClientTool, ToolSet
from ..tools_common import ToolPlan, checked_tool, offered, tool_list

CUSTOM_TYPES = (None, "custom")
CHOICES = ("auto", "any", "tool", "none")


def _tool(entry: object, i: int) -> ClientTool:
    where = f"tools.{i}"
    if not isinstance(entry, dict):
        raise InvalidRequest("each tool must be an object", param=where)
    if entry.get("type") not in CUSTOM_TYPES:
        raise InvalidRequest(
            f"tool type `{entry.get('type')}` is not supported by this proxy; send custom "
            "tools (`name`, `description`, `input_schema`)",
            param=f"{where}.type",
        )
    return checked_tool(
        entry.get("name"),
        entry.get("description"),
        entry.get("input_schema"),
        name_param=f"{where}.name",
        description_param=f"{where}.description",
        schema_param=f"{where}.input_schema",
    )


def client_tools(value: object) -> tuple[ClientTool, ...]:
    return tool_list(value, _tool, "name")


def _bad_choice(why: str, param: str = "tool_choice") -> InvalidRequest:
    return InvalidRequest(f"`tool_choice`: {why}", param=param)


def tool_plan(body: Mapping[str, Any], tool_history: bool) -> ToolPlan:
    """The request's ToolPlan; `tool_history`: the messages hold tool_use / tool_result
    blocks. Raises InvalidRequest naming `tools…` or `tool_choice…`."""
    given, choice = body.get("tools"), body.get("tool_choice")
    if choice is not None and not isinstance(choice, dict):
        raise _bad_choice("must be an object with a `type`")
    kind = choice.get("type", "auto") if choice else "auto"
    if kind not in CHOICES:
        raise _bad_choice(f"`type` must be one of {', '.join(CHOICES)}", "tool_choice.type")
    if not given:
        if kind in ("any", "tool"):
            raise _bad_choice(f"`{kind}` is only allowed when `tools` are specified")
        return ToolPlan()
    tools = client_tools(given)
    withheld = ToolSet(tools, permitted=False) if tool_history else None
    if kind == "none":
        return ToolPlan(withheld)
    single = bool(choice and choice.get("disable_parallel_tool_use") is True)
    if kind == "tool":
        assert choice is not None
        name = choice.get("name")
        tool = next((t for t in tools if t.name == name), None)
        if tool is None:
            raise _bad_choice(f"tool `{name}` is not one of `tools`", "tool_choice.name")
        return ToolPlan(withheld, tool.parameters, tool.name)
    return offered(tools, required=kind == "any", single=single)
