"""OpenAI chat messages -> hub turns: the history as the real user/assistant turns it was.

The Messages API wants strictly alternating `user` / `assistant` turns, tool results in the
user turn right after the tool calls, and the instructions outside the turns. The rules:

- System and developer messages before the first other message are the system text (joined
  by a blank line). One that comes later has no place in a turn, so it is rendered explicitly
  as a text block `<system_message>\\n…\\n</system_message>` (`<developer_message>` for
  developer) in a user turn: the user turn it follows, or a new one.
- User content: a string stays that string; parts become blocks (`text` / `input_text` ->
  text; image parts through the `image` converter when one is given). Any other part type is a
  400 naming `messages.N.content.M.type`.
- Assistant content (`text`, `output_text`, `refusal` parts) -> text blocks; each `tool_calls`
  entry -> a `tool_use` block, its `arguments` parsed as a JSON object (empty -> `{}`; anything
  else -> a 400 naming `messages.N.tool_calls.M.function.arguments`), its name as the caller
  says (`mcp__client__<name>` when the request offers tools). A legacy `function_call`
  -> a `tool_use` with id `call_legacy_N`, answered by the `function` message after it. An
  assistant message with no text and no calls is dropped: it carries nothing.
- `tool` (and legacy `function`) messages -> `tool_result` blocks in a user turn. As OpenAI
  requires, each answers a call of the assistant message before it, and every call is
  answered before any other message comes.
- Consecutive turns of one role merge into one turn, blocks in order (a string becomes a text
  block). `name` fields are not carried: the Messages API has no place for them.

Pure functions: tested without processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidRequest
from ...protocol.blocks import (
    CliMessage,
    ContentBlock,
    ImageBlock,
    TextBlock,
    ToolResultBlock,
)
from ..hub_turns import append_turn, check_writable

INSTRUCTION_ROLES = ("system", "developer")
USER_TEXT_PARTS = ("text", "input_text")
ASSISTANT_TEXT_PARTS = ("text", "output_text", "refusal")
IMAGE_PARTS = ("image_url", "input_image")

# (part, param "messages.N.content.M") -> an image block, or raises InvalidRequest.
ImageConverter = Callable[[Mapping[str, Any], str], ImageBlock]


@dataclass(frozen=True, slots=True)
class ChatTurns:
    """A chat request's conversation as the Messages API holds it."""

    system: str | None
    turns: list[CliMessage]


def text_of_part(part: Mapping[str, Any], kind: str, where: str) -> str:
    field = "refusal" if kind == "refusal" else "text"
    value = part.get(field)
    if not isinstance(value, str):
        raise InvalidRequest(f"content part of type `{kind}` needs a string `{field}`", param=where)
    return value


def _parts(
    content: Any, param: str, allowed: tuple[str, ...], image: ImageConverter | None
) -> list[ContentBlock]:
    """Content parts -> blocks; `None` and `""` give no block."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or an array of content parts", param=param)
    blocks: list[ContentBlock] = []
    for j, part in enumerate(content):
        where = f"{param}.{j}"
        if not isinstance(part, dict):
            raise InvalidRequest("each content part must be an object", param=where)
        kind = part.get("type")
        if kind in allowed:
            blocks.append({"type": "text", "text": text_of_part(part, str(kind), where)})
        elif kind in IMAGE_PARTS and image is not None:
            blocks.append(image(part, where))
        else:
            raise InvalidRequest(
                f"content part type `{kind}` is not supported here; "
                f"send {' or '.join(f'`{a}`' for a in allowed)} parts",
                param=f"{where}.type",
            )
    return blocks


def _tool_input(arguments: Any, param: str) -> dict[str, object]:
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise InvalidRequest(
        "function arguments must be a JSON object encoded as a string", param=param
    )


def _tool_uses(
    message: Mapping[str, Any], i: int, name: Callable[[str], str]
) -> list[ContentBlock]:
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise InvalidRequest("tool_calls must be an array", param=f"messages.{i}.tool_calls")
    blocks: list[ContentBlock] = []
    for m, call in enumerate(calls or []):
        where = f"messages.{i}.tool_calls.{m}"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise InvalidRequest("only `function` tool calls are supported", param=f"{where}.type")
        fn, ident = call.get("function"), call.get("id")
        if not isinstance(ident, str) or not ident:
            raise InvalidRequest("a tool call needs a string `id`", param=f"{where}.id")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidRequest("a tool call needs a `function.name`", param=f"{where}.function")
        args = _tool_input(fn.get("arguments"), f"{where}.function.arguments")
        blocks.append({"type": "tool_use", "id": ident, "name": name(fn["name"]), "input": args})
    legacy = message.get("function_call")
    if legacy is not None:
        where = f"messages.{i}.function_call"
        if not isinstance(legacy, dict) or not isinstance(legacy.get("name"), str):
            raise InvalidRequest("function_call needs a string `name`", param=where)
        args = _tool_input(legacy.get("arguments"), f"{where}.arguments")
        ident = f"call_legacy_{i}"
        tool_use: ContentBlock = {
            "type": "tool_use",
            "id": ident,
            "name": name(legacy["name"]),
            "input": args,
        }
        blocks.append(tool_use)
    return blocks


def _tool_result(message: Mapping[str, Any], i: int, pending: list[str]) -> ToolResultBlock:
    """A tool message answering one of `pending` (the calls not yet answered)."""
    legacy = message["role"] == "function"
    ident = (pending[0] if pending else None) if legacy else message.get("tool_call_id")
    where = f"messages.{i}" if legacy else f"messages.{i}.tool_call_id"
    if ident not in pending:
        raise InvalidRequest(
            f"messages with role '{message['role']}' must answer a call of the assistant "
            "message before them; this one answers none of its unanswered calls",
            param=where,
        )
    pending.remove(str(ident))
    content = message.get("content")
    result: str | list[TextBlock | ImageBlock]
    if content is None or isinstance(content, str):
        result = content or ""
    else:
        result = [
            {"type": "text", "text": b["text"]}
            for b in _parts(content, f"messages.{i}.content", USER_TEXT_PARTS, None)
            if b["type"] == "text"
        ]
    return {"type": "tool_result", "tool_use_id": str(ident), "content": result}


def _unanswered(pending: list[str], index: int) -> InvalidRequest:
    """OpenAI's own refusal of tool calls left without answers."""
    return InvalidRequest(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param=f"messages.{index}.tool_calls",
    )


def turns_from_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    image: ImageConverter | None = None,
    tool_name: Callable[[str], str] = str,
) -> ChatTurns:
    """Split the instructions off and convert the conversation turn by turn (rules above).
    `tool_name`: a called function's name as the history says it (`cli_tool_name` when the
    request offers the client's tools: the name the model saw)."""
    instructions: list[str] = []
    turns: list[CliMessage] = []
    pending: list[str] = []  # tool calls of the last assistant message not yet answered
    asked_at = 0  # index of that assistant message
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("tool", "function") and pending:
            raise _unanswered(pending, asked_at)
        param = f"messages.{i}.content"
        if role in INSTRUCTION_ROLES:
            blocks = _parts(message.get("content"), param, USER_TEXT_PARTS, None)
            text = "\n".join(b["text"] for b in blocks if b["type"] == "text")
            if not turns:
                if text:
                    instructions.append(text)
            elif text:
                tag = f"{role}_message"
                append_turn(turns, "user", [{"type": "text", "text": f"<{tag}>\n{text}\n</{tag}>"}])
        elif role == "user":
            content = message.get("content")
            if isinstance(content, str):
                append_turn(turns, "user", content)
            else:
                append_turn(turns, "user", _parts(content, param, USER_TEXT_PARTS, image))
        elif role == "assistant":
            blocks = _parts(message.get("content"), param, ASSISTANT_TEXT_PARTS, None)
            uses = _tool_uses(message, i, tool_name)
            content = message.get("content")
            if isinstance(content, str) and content and not uses:
                append_turn(turns, "assistant", content)
            elif blocks or uses:
                append_turn(turns, "assistant", [*blocks, *uses])
            pending = [str(b["id"]) for b in uses if b["type"] == "tool_use"]
            asked_at = i
        elif role in ("tool", "function"):
            append_turn(turns, "user", [_tool_result(message, i, pending)])
        else:
            raise InvalidRequest(f"unknown message role `{role}`", param=f"messages.{i}.role")
    if pending:
        raise _unanswered(pending, asked_at)
    if not turns:
        raise InvalidRequest(
            "messages must contain at least one user, assistant or tool message", param="messages"
        )
    system = "\n\n".join(instructions) or None
    check_writable([system, turns])
    return ChatTurns(system=system, turns=turns)
