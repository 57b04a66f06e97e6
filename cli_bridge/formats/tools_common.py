"""What every surface's tools share: a checked ClientTool, the plan of how a request's tools
are offered and its answer shaped, the instructions that approximate `tool_choice`, and the
upstream's own refusal of a tool history. Each surface reads its own field names
(openai_chat/tools.py, anthropic_messages/tools.py) and builds these. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.structured import canonical_schema, schema_problem
from ..errors import InvalidRequest
from ..protocol.blocks import CliMessage
from ..protocol.client_tools import MAX_CLIENT_NAME, ClientTool, ToolSet
from ..protocol.history_rules import check_tool_history

NAME = re.compile(rf"^[a-zA-Z0-9_-]{{1,{MAX_CLIENT_NAME}}}$")
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
# tool_choice `required` (OpenAI) / `any` (Anthropic): the MCP server's instructions.
REQUIRED = "Every reply must call at least one of the tools of this server."
# parallel_tool_calls false (OpenAI) / disable_parallel_tool_use (Anthropic).
ONE_CALL = "Call at most one tool per reply."


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """How a request's tools are offered and its answer shaped.

    `tools`: the CLI's ToolSet (None: no tools offered). `output_schema`: the structured
    output schema (a response format's, or the forced tool's parameters). `forced`: the tool
    `tool_choice` names; the structured answer is returned as one call of it.
    `single`: surface only the first client tool call of an answer."""

    tools: ToolSet | None = None
    output_schema: str | None = None
    forced: str | None = None
    single: bool = False

    @property
    def calls_surfaced(self) -> bool:
        """Whether the model's calls of the client's tools reach the client as calls."""
        return self.tools is not None and self.tools.permitted


NO_TOOLS = ToolPlan()


def checked_tool(
    name: object,
    description: object,
    parameters: object,
    *,
    name_param: str,
    description_param: str,
    schema_param: str,
) -> ClientTool:
    """One client tool, checked: a 400 naming the field that is wrong."""
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidRequest(
            f"tool names must match ^[a-zA-Z0-9_-]{{1,{MAX_CLIENT_NAME}}}$ (the CLI "
            f"prefixes them with mcp__client__ within the upstream's 64 characters)",
            param=name_param,
        )
    if description is not None and not isinstance(description, str):
        raise InvalidRequest("`description` must be a string", param=description_param)
    if parameters is None:
        parameters = NO_PARAMETERS
    if not isinstance(parameters, dict):
        raise InvalidRequest("a tool's schema must be a JSON Schema object", param=schema_param)
    # The root type spelled out: the upstream's input_schema and MCP's inputSchema want it.
    schema = {"type": "object", **parameters}
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidRequest(f"tool schema: {problem}", param=schema_param)
    return ClientTool(name, description or "", canonical_schema(schema))


def unique(tools: Sequence[ClientTool], name_param: str) -> None:
    """400 when the last tool's name is already used by an earlier one."""
    *earlier, last = tools
    if any(t.name == last.name for t in earlier):
        raise InvalidRequest(
            f"tool name `{last.name}` is used by more than one tool", param=name_param
        )


def tool_list(
    value: object, read: Callable[[object, int], ClientTool], name_field: str
) -> tuple[ClientTool, ...]:
    """A request's `tools` array, each entry read by the surface's `read` (400 naming the
    first bad entry; `name_field`: where an entry's name is, e.g. `function.name`)."""
    if not isinstance(value, list):
        raise InvalidRequest("`tools` must be an array", param="tools")
    tools: list[ClientTool] = []
    for i, entry in enumerate(value):
        tools.append(read(entry, i))
        unique(tools, f"tools.{i}.{name_field}")
    return tuple(tools)


def offered(tools: tuple[ClientTool, ...], *, required: bool, single: bool) -> ToolPlan:
    """Tools the model may call, with the instructions approximating `required` / `any`
    and one call per reply."""
    lines = [REQUIRED] if required else []
    if single:
        lines.append(ONE_CALL)
    toolset = ToolSet(tools, instructions=" ".join(lines) or None, one_call=single)
    return ToolPlan(toolset, single=single)


def check_tool_turns(turns: Sequence[CliMessage], tools: ToolSet, param: str = "messages") -> None:
    """The upstream's own refusal of a tool history, as a 400 before any process starts."""
    violation = check_tool_history(list(turns), [t.name for t in tools.tools])
    if violation is not None:
        raise InvalidRequest(violation.message, param=param)
