"""The Messages API's rules on tool blocks in history, with the API's own error text.

The real API refuses a request that breaks them with a 400 `invalid_request_error`, so the
proxy checks any history it builds before spawning a CLI, and the fake upstream used in tests
refuses the same requests (claude-cli.md §15; message texts as the API words them in public
reports). Tolerant of any JSON: the fake upstream feeds it whatever it received.

"Next" and "previous" message are the neighbours in `messages` exactly as sent, `role:"system"`
entries (the CLI's per-turn-control beta) included: stricter than the API may be, never looser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TOOLS_REQUIRED = "Requests which include tool_use or tool_result blocks must define tools."


@dataclass(frozen=True, slots=True)
class HistoryViolation:
    """Where the history breaks a rule: `messages.<index>[.content.<block>]`, and the text."""

    message: str
    index: int | None = None
    block: int | None = None


def _blocks(message: object) -> list[tuple[int, dict[str, object]]]:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    return [(j, block) for j, block in enumerate(content) if isinstance(block, dict)]


def _role(message: object) -> object:
    return message.get("role") if isinstance(message, dict) else None


def _ids(message: object, kind: str, field: str) -> list[tuple[int, str]]:
    """(block index, id) of every `kind` block of a message, in order."""
    return [
        (j, str(block.get(field))) for j, block in _blocks(message) if block.get("type") == kind
    ]


def check_tool_history(messages: Sequence[object], tools: object) -> HistoryViolation | None:
    """The first rule `messages` breaks, or None:

    1. tool_use / tool_result blocks anywhere need a non-empty `tools`;
    2. every tool_use id of an assistant message has a tool_result in the very next message;
    3. every tool_result of a user message answers a tool_use of the very previous message.
    """
    has_tool_blocks = any(
        block.get("type") in ("tool_use", "tool_result")
        for message in messages
        for _, block in _blocks(message)
    )
    if has_tool_blocks and not (isinstance(tools, list) and tools):
        return HistoryViolation(TOOLS_REQUIRED)
    for i, message in enumerate(messages):
        role = _role(message)
        if role == "user":
            previous = messages[i - 1] if i > 0 else None
            asked = (
                {tid for _, tid in _ids(previous, "tool_use", "id")}
                if _role(previous) == "assistant"
                else set()
            )
            for j, tid in _ids(message, "tool_result", "tool_use_id"):
                if tid not in asked:
                    text = (
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {tid}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message."
                    )
                    return HistoryViolation(text, i, j)
        elif role == "assistant":
            following = messages[i + 1] if i + 1 < len(messages) else None
            answered = (
                {tid for _, tid in _ids(following, "tool_result", "tool_use_id")}
                if _role(following) == "user"
                else set()
            )
            missing = [tid for _, tid in _ids(message, "tool_use", "id") if tid not in answered]
            if missing:
                text = (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have "
                    "a corresponding `tool_result` block in the next message."
                )
                return HistoryViolation(text, i)
    return None
