"""What one answer of a tool-offering process did: its client tool calls and its token usage.

An answer ends at client tool calls when the upstream message that made them stops with
`tool_use`; the process then waits with the calls open (cli_bridge/tools/session.py). The
calls, and the assistant turn the client will send back with them, are collected here, and
so is the usage of this answer alone: the CLI's `result` counts the whole CLI turn, which
spans several answers once a live process continues after the client's results.
Pure: fed parsed events, tested without processes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..protocol.blocks import ContentBlock, UserContent, as_blocks
from ..protocol.client_tools import ToolCall, ToolSet, client_tool_name
from ..protocol.events import AssistantBlock, CliEvent, MessageDelta, MessageStart
from ..protocol.wire import USAGE_COUNTS, Usage

# What a resumed history's next user line says when the client sent only tool results: the
# CLI needs a user line to start a turn (the phrase Claude Code itself uses for a resumed,
# interrupted turn).
CONTINUE_TEXT = "Continue from where you left off."


class ToolRound:
    """Client tool calls of one answer, in the order the model made them."""

    def __init__(self, tools: ToolSet | None) -> None:
        # Calls are surfaced only when they are permitted; refused ones the CLI answers itself.
        self._active = tools is not None and tools.permitted
        self._one_call = tools is not None and tools.one_call
        self.calls: list[tuple[ToolCall, str]] = []  # (call, the name the model used)
        self.extra: list[str] = []  # ids of calls beyond the first (one_call): not surfaced

    def feed(self, event: CliEvent) -> None:
        if not self._active or not isinstance(event, AssistantBlock):
            return
        if event.kind != "tool_use" or event.tool_id is None or event.tool_name is None:
            return
        name = client_tool_name(event.tool_name)
        if name is None:  # a Claude Code tool an operator enabled: the CLI runs it
            return
        if self._one_call and self.calls:
            self.extra.append(event.tool_id)
            return
        arguments = json.dumps(event.tool_input or {}, ensure_ascii=False)
        self.calls.append((ToolCall(event.tool_id, name, arguments), event.tool_name))

    def stops(self, event: CliEvent) -> bool:
        """Whether the answer ends here: the message stopped to wait for client calls."""
        return (
            isinstance(event, MessageDelta) and event.stop_reason == "tool_use" and bool(self.calls)
        )

    def surfaced(self) -> tuple[ToolCall, ...]:
        return tuple(call for call, _ in self.calls)

    def held_blocks(self, reply: str) -> list[ContentBlock]:
        """The assistant turn as the client will send it back: its text, then its calls
        under the names the model saw (a written history must say the same)."""
        # Blank text is no block: the client's follow-up drops it (request.py) too.
        blocks: list[ContentBlock] = [{"type": "text", "text": reply}] if reply.strip() else []
        for call, seen in self.calls:
            tool_input = json.loads(call.arguments)
            blocks.append({"type": "tool_use", "id": call.id, "name": seen, "input": tool_input})
        return blocks


class UsageTally:
    """Token usage of the upstream messages of one answer, summed."""

    def __init__(self) -> None:
        self._done: list[Usage] = []
        self._current: Usage = {}

    def feed(self, event: CliEvent) -> None:
        if isinstance(event, MessageStart):
            self._close()
            self._current = dict(event.usage or {})  # type: ignore[assignment]
        elif isinstance(event, MessageDelta) and event.usage:
            self._current.update(event.usage)

    def _close(self) -> None:
        if self._current:
            self._done.append(self._current)
        self._current = {}

    @property
    def usage(self) -> Usage:
        total: Usage = {}
        for part in [*self._done, self._current]:
            for key in USAGE_COUNTS:
                if key in part:
                    total[key] = total.get(key, 0) + part[key]
        return total


def tool_results(prompt: UserContent) -> tuple[list[ContentBlock], list[ContentBlock]]:
    """(the tool_result blocks of a user turn, the rest of it)."""
    blocks = as_blocks(prompt)
    results: list[ContentBlock] = [b for b in blocks if b["type"] == "tool_result"]
    return results, [b for b in blocks if b["type"] != "tool_result"]


def result_ids(blocks: Sequence[ContentBlock]) -> list[str]:
    return [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]


def result_text(block: ContentBlock) -> str:
    """A tool_result's content as the plain text the MCP handler returns (§16)."""
    if block["type"] != "tool_result":
        return ""
    content = block["content"]
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part["type"] == "text")
