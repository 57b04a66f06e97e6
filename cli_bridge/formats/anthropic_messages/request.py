"""An Anthropic Messages request -> what the CLI reads: a system prompt, the prior turns, the
new user turn. The CLI's own language is this API's, so most blocks pass as they are.

- `system` (a string or text blocks, their `cache_control` dropped) is the system text;
  `role: "system"` entries inside `messages` (Claude Code sends them) join it when they come
  before the first turn, and later ones become a `<system_message>` text block in a user turn
  (as the chat surface renders a late system message).
- User blocks: `text`; `image` with a `base64` source (checked like any image: type, magic
  bytes, size) or a `url` source (fetched by the proxy beforehand, handlers/images.py);
  `tool_result` (text content only). Assistant blocks: `text`, `tool_use`; `thinking` and
  `redacted_thinking` are dropped (the CLI writes its own). Any other block type is a 400
  naming `messages.N.content.M.type`; `cache_control` and `citations` are ignored.
- With tools offered, `tool_use` names are the ones the model saw (`mcp__client__<name>`)
  and the history is checked against the API's tool rules before any process starts.
- Consecutive turns of one role merge (as the API merges them); the first turn must be the
  user's; a blank message is a 400. The new turn is the last user message; a conversation that
  ends with an assistant message (a prefill, which the CLI cannot do) is answered with the
  next assistant message (`CONTINUE_PROMPT`).
Pure functions: tested without processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ...errors import InvalidRequest
from ...images import block_from_data_url, is_http_url, unsupported_url
from ...protocol.blocks import (
    CliMessage,
    ContentBlock,
    ImageBlock,
    TextBlock,
    ToolResultBlock,
    UserContent,
)
from ...protocol.client_tools import ToolSet, cli_tool_name
from ...protocol.history_rules import check_tool_history
from ..hub_turns import CONTINUE_PROMPT, append_turn, check_writable, is_empty, plain
from ..tools_common import check_tool_turns

# (image block of the request, param "messages.N.content.M") -> a checked hub image block.
ImageConverter: TypeAlias = Callable[[Mapping[str, Any], str], ImageBlock]
DROPPED_ASSISTANT = ("thinking", "redacted_thinking")


@dataclass(frozen=True, slots=True)
class MessagesInput:
    """The CLI-side form of a Messages request."""

    system_prompt: str | None
    prompt: UserContent  # the new user turn
    history: tuple[CliMessage, ...] = ()


def _text(block: Mapping[str, Any], where: str) -> str:
    value = block.get("text")
    if not isinstance(value, str):
        raise InvalidRequest("a `text` block needs a string `text`", param=f"{where}.text")
    return value


def _texts(content: object, param: str) -> str:
    """A string or text blocks (a `system` value or a `role: system` message) as text."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InvalidRequest("must be a string or an array of text blocks", param=param)
    parts = []
    for j, block in enumerate(content):
        where = f"{param}.{j}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest("only `text` blocks are accepted here", param=f"{where}.type")
        parts.append(_text(block, where))
    return "\n\n".join(p for p in parts if p)


def system_text(value: object) -> str | None:
    """`system`: a string or text blocks (Claude Code sends several with `cache_control`)."""
    return _texts(value, "system") or None


def image_urls(messages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """param -> http(s) URL of every `url` image of a user message (fetched before the
    conversion; handlers/images.py)."""
    found: dict[str, str] = {}
    for i, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            source = block.get("source")
            if isinstance(source, dict):
                url = source.get("url")
                if source.get("type") == "url" and isinstance(url, str) and is_http_url(url):
                    found[f"messages.{i}.content.{j}"] = url
    return found


def image_converter(fetched: Mapping[str, ImageBlock]) -> ImageConverter:
    """Base64 sources checked here; `url` sources answered from `fetched`."""

    def convert(block: Mapping[str, Any], param: str) -> ImageBlock:
        source = block.get("source")
        if not isinstance(source, dict):
            raise InvalidRequest("an `image` block needs a `source`", param=f"{param}.source")
        kind = source.get("type")
        if kind == "base64":
            media, data = source.get("media_type"), source.get("data")
            if not isinstance(media, str) or not isinstance(data, str):
                raise InvalidRequest(
                    "a base64 image source needs string `media_type` and `data`",
                    param=f"{param}.source",
                )
            return block_from_data_url(f"data:{media};base64,{data}", param)
        if kind == "url":
            if param in fetched:
                return fetched[param]
            url = source.get("url")
            if isinstance(url, str) and is_http_url(url):
                raise InvalidRequest("image URLs are accepted in user messages only", param=param)
            raise unsupported_url(str(url), param)
        raise InvalidRequest(
            f"image source type `{kind}` is not supported by this proxy; send `base64` or `url`",
            param=f"{param}.source.type",
        )

    return convert


def _unsupported(kind: object, where: str, allowed: str) -> InvalidRequest:
    return InvalidRequest(
        f"content block type `{kind}` is not supported here by this proxy; send {allowed}",
        param=f"{where}.type",
    )


def _tool_result(block: Mapping[str, Any], where: str) -> ContentBlock:
    ident = block.get("tool_use_id")
    if not isinstance(ident, str) or not ident:
        raise InvalidRequest("a `tool_result` needs a string `tool_use_id`", param=where)
    content = block.get("content")
    result: str | list[TextBlock | ImageBlock]
    if content is None or isinstance(content, str):
        result = content or ""
    elif isinstance(content, list):
        result = []
        for k, part in enumerate(content):
            at = f"{where}.content.{k}"
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else None
                raise _unsupported(kind, at, "text blocks (tool results carry text only)")
            if text := _text(part, at):
                result.append({"type": "text", "text": text})
    else:
        raise InvalidRequest("`content` must be a string or an array", param=f"{where}.content")
    out: ToolResultBlock = {"type": "tool_result", "tool_use_id": ident, "content": result}
    if block.get("is_error") is True:
        out["is_error"] = True
    return out


def _tool_use(block: Mapping[str, Any], where: str, name: Callable[[str], str]) -> ContentBlock:
    ident, called, given = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(ident, str) or not ident:
        raise InvalidRequest("a `tool_use` needs a string `id`", param=f"{where}.id")
    if not isinstance(called, str) or not called:
        raise InvalidRequest("a `tool_use` needs a string `name`", param=f"{where}.name")
    if not isinstance(given, dict):
        raise InvalidRequest("a `tool_use` needs an object `input`", param=f"{where}.input")
    return {"type": "tool_use", "id": ident, "name": name(called), "input": given}


def _blocks(
    message: Mapping[str, Any], i: int, image: ImageConverter, name: Callable[[str], str]
) -> list[ContentBlock]:
    role, content, param = message["role"], message.get("content"), f"messages.{i}.content"
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or an array of blocks", param=param)
    blocks: list[ContentBlock] = []
    for j, block in enumerate(content):
        where = f"{param}.{j}"
        if not isinstance(block, dict):
            raise InvalidRequest("each content block must be an object", param=where)
        kind = block.get("type")
        if kind == "text":
            if (text := _text(block, where)).strip():  # the API refuses blank text blocks
                blocks.append({"type": "text", "text": text})
        elif role == "user" and kind == "image":
            blocks.append(image(block, where))
        elif role == "user" and kind == "tool_result":
            blocks.append(_tool_result(block, where))
        elif role == "assistant" and kind == "tool_use":
            blocks.append(_tool_use(block, where, name))
        elif role == "assistant" and kind in DROPPED_ASSISTANT:
            continue
        else:
            allowed = (
                "`text`, `image` or `tool_result` blocks"
                if role == "user"
                else "`text`, `tool_use` or `thinking` blocks"
            )
            raise _unsupported(kind, where, allowed)
    return blocks


def input_from_messages(
    system: object,
    messages: Sequence[Mapping[str, Any]],
    *,
    image: ImageConverter | None = None,
    tools: ToolSet | None = None,
) -> MessagesInput:
    """The system text, the prior turns and the new user turn (rules: module docstring).
    `tools`: what the request offers the model (tools.tool_plan), None for nothing."""
    convert = image or image_converter({})
    name = cli_tool_name if tools is not None else str
    instructions = [t] if (t := system_text(system)) else []
    turns: list[CliMessage] = []
    last_user = -1
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "system":
            text = _texts(message.get("content"), f"messages.{i}.content")
            if text and not turns:
                instructions.append(text)
            elif text:
                block: ContentBlock = {
                    "type": "text",
                    "text": f"<system_message>\n{text}\n</system_message>",
                }
                append_turn(turns, "user", [block])
            continue
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"unknown message role `{role}`", param=f"messages.{i}.role")
        blocks = _blocks(message, i, convert, name)
        final_assistant = role == "assistant" and i == len(messages) - 1
        if not blocks and not final_assistant:  # a final empty assistant message: no prefill
            raise InvalidRequest(
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message",
                param=f"messages.{i}.content",
            )
        if not turns and role == "assistant":
            raise InvalidRequest(
                'messages: the first message must use the "user" role', param="messages.0.role"
            )
        if blocks:
            append_turn(turns, role, blocks)
        if role == "user":
            last_user = i
    if not turns:
        raise InvalidRequest("messages must contain at least one user message", param="messages")
    system_prompt = "\n\n".join(instructions) or None
    check_writable([system_prompt, turns])
    *before, last = turns
    if last["role"] == "assistant":
        _check_tools([*turns, {"role": "user", "content": CONTINUE_PROMPT}], tools)
        return MessagesInput(system_prompt, CONTINUE_PROMPT, tuple(turns))
    if is_empty(last["content"]):
        raise InvalidRequest(
            f"messages.{last_user}.content must not be empty",
            param=f"messages.{last_user}.content",
        )
    _check_tools(turns, tools)
    return MessagesInput(system_prompt, plain(last["content"]), tuple(before))


def _check_tools(turns: list[CliMessage], tools: ToolSet | None) -> None:
    """The API's rules on tool blocks (without tools: none may appear), as its own 400."""
    if tools is not None:
        check_tool_turns(turns, tools)
    elif (violation := check_tool_history(turns, [])) is not None:
        raise InvalidRequest(violation.message, param="messages")


def has_tool_blocks(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the conversation holds tool_use or tool_result blocks."""
    return any(
        isinstance(block, dict) and block.get("type") in ("tool_use", "tool_result")
        for message in messages
        if isinstance(message.get("content"), list)
        for block in message["content"]
    )
