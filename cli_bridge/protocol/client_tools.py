"""A client's own tools as the CLI offers them: through one MCP server the proxy hosts.

The CLI names an MCP tool `mcp__<server>__<tool>` (claude-cli.md §14), so the model sees
`mcp__client__get_weather` for a client's `get_weather`. Names in a history the proxy writes
carry the prefix (they are what the model saw); names going back to the client never do.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

SERVER_NAME = "client"
PREFIX = f"mcp__{SERVER_NAME}__"
# The Messages API allows tool names of 1-64 characters; the prefix takes its share.
MAX_CLIENT_NAME = 64 - len(PREFIX)


def cli_tool_name(client_name: str) -> str:
    """What the model sees (and what a written history must say) for a client's tool."""
    return PREFIX + client_name


def client_tool_name(cli_name: str) -> str | None:
    """The client's name of a tool the model called; None for any other tool (a Claude Code
    built-in an operator enabled, the CLI's own StructuredOutput): never surfaced."""
    if cli_name.startswith(PREFIX) and len(cli_name) > len(PREFIX):
        return cli_name[len(PREFIX) :]
    return None


@dataclass(frozen=True, slots=True)
class ClientTool:
    """One function tool of the request: name, description, JSON Schema (canonical JSON)."""

    name: str
    description: str
    parameters: str  # canonical JSON text of an object schema

    @property
    def schema(self) -> dict[str, object]:
        value = json.loads(self.parameters)
        assert isinstance(value, dict)
        return value


@dataclass(frozen=True, slots=True)
class ToolSet:
    """What a CLI process is started with for a client's tools (part of its key).

    `permitted`: False when the tools are offered only because the history holds tool blocks
    (the Messages API refuses those without `tools`) but the client said `tool_choice: none`:
    the CLI then refuses every call itself. `instructions`: the MCP server's instructions
    (what `tool_choice: required` or `parallel_tool_calls: false` ask of the model).
    `one_call`: `parallel_tool_calls: false`: only a message's first call reaches the client;
    the engine answers the others itself with an error result the model sees."""

    tools: tuple[ClientTool, ...]
    permitted: bool = True
    instructions: str | None = None
    one_call: bool = False

    @property
    def digest(self) -> str:
        payload = [
            [[t.name, t.description, t.parameters] for t in self.tools],
            self.permitted,
            self.instructions,
            self.one_call,
        ]
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(data.encode()).hexdigest()

    def names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.tools)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A client tool call the model made: its tool_use id, the client's name, the arguments
    as JSON text (OpenAI's `function.arguments`)."""

    id: str
    name: str
    arguments: str
