"""OpenAI chat messages -> what the CLI reads: a system prompt and one user turn on stdin.

The CLI holds no server-side state for us, so the whole history is rendered into one faithful
prompt. Images of the last user message (given an `image` converter) make that turn content
blocks; images in earlier messages are refused here. Pure functions: tested without processes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Required, TypeAlias, TypedDict

from ...errors import InvalidRequest
from ...protocol.blocks import ContentBlock, Conversation, Role, UserContent
from .turns import IMAGE_PARTS, ImageConverter

INSTRUCTION_ROLES = ("system", "developer")
TEXT_PART_TYPES = ("text", "input_text", "output_text", "refusal")

ChatRole: TypeAlias = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatMessage(TypedDict, total=False):
    """One entry of a chat request's `messages`. openapi.yaml has checked `role`; every other
    field is checked here as it is read, so this converter is safe on any JSON."""

    role: Required[ChatRole]
    content: object  # a string, an array of content parts, or null
    name: object
    tool_calls: object
    tool_call_id: object
    function_call: object


@dataclass(frozen=True, slots=True)
class CliInput:
    """The CLI-side form of a chat request."""

    system_prompt: str | None
    prompt: UserContent  # a string, or blocks when the last user message holds images


def _part_text(part: object, where: str) -> str:
    if not isinstance(part, dict):
        raise InvalidRequest("each content part must be an object", param=where)
    kind = part.get("type")
    if kind not in TEXT_PART_TYPES:
        raise InvalidRequest(
            f"content part type `{kind}` is not supported by this proxy yet; "
            "send text parts (`text` or `input_text`)",
            param=f"{where}.type",
        )
    value = part.get("refusal") if kind == "refusal" else part.get("text")
    if not isinstance(value, str):
        field = "refusal" if kind == "refusal" else "text"
        raise InvalidRequest(f"content part of type `{kind}` needs a string `{field}`", param=where)
    return value


def text_from_content(content: object, param: str) -> str:
    """A message's `content` (string, parts array or null) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or an array of content parts", param=param)
    return "\n".join(_part_text(part, f"{param}.{j}") for j, part in enumerate(content))


def _has_image(content: object) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in IMAGE_PARTS for p in content
    )


def content_from_parts(content: object, param: str, image: ImageConverter) -> UserContent:
    """A user message's content: plain text as text_from_content gives it, or, when it holds
    image parts, blocks in order (each non-empty text part a text block, each image through
    `image`)."""
    if not isinstance(content, list) or not _has_image(content):
        return text_from_content(content, param)
    blocks: list[ContentBlock] = []
    for j, part in enumerate(content):
        where = f"{param}.{j}"
        if isinstance(part, dict) and part.get("type") in IMAGE_PARTS:
            blocks.append(image(part, where))
        elif text := _part_text(part, where):  # the Messages API refuses empty text blocks
            blocks.append({"type": "text", "text": text})
    return blocks


def _tool_calls_text(message: ChatMessage) -> str:
    listed = message.get("tool_calls") or []
    calls: list[object] = list(listed) if isinstance(listed, list) else []
    function_call = message.get("function_call")
    if function_call:
        calls.append({"type": "function", "function": function_call})
    lines = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        fn = call.get("function")
        if isinstance(fn, dict):
            call_id = call.get("id")
            ident = f' id="{call_id}"' if isinstance(call_id, str) else ""
            lines.append(
                f'<tool_call{ident} name="{fn.get("name")}">{fn.get("arguments", "")}</tool_call>'
            )
    return "\n".join(lines)


def _render_turn(message: ChatMessage, param: str) -> str:
    role: str = message["role"]
    text = text_from_content(message.get("content"), f"{param}.content")
    attrs = ""
    name = message.get("name")
    if isinstance(name, str):
        attrs += f" name={json.dumps(name)}"
    if role in ("tool", "function"):
        ref = message.get("tool_call_id") or name
        if isinstance(ref, str):
            attrs = f" tool_call_id={json.dumps(ref)}"
        role = "tool_result"
    if role == "assistant":
        calls = _tool_calls_text(message)
        text = "\n".join(t for t in (text, calls) if t)
    return f"<{role}{attrs}>\n{text}\n</{role}>"


def input_from_messages(
    messages: Sequence[ChatMessage], *, image: ImageConverter | None = None
) -> CliInput:
    """Split instructions from the conversation and render the conversation as one prompt;
    with `image`, the last user message's image parts become image blocks."""
    instructions: list[str] = []
    turns: list[tuple[int, ChatMessage]] = []
    for i, message in enumerate(messages):
        if message["role"] in INSTRUCTION_ROLES:
            text = text_from_content(message.get("content"), f"messages.{i}.content")
            if text:
                instructions.append(text)
        else:
            turns.append((i, message))
    if not turns:
        raise InvalidRequest(
            "messages must contain at least one user, assistant or tool message", param="messages"
        )
    system_prompt = "\n\n".join(instructions) or None

    last_index, last = turns[-1]
    where = f"messages.{last_index}.content"
    prompt: UserContent
    if last["role"] == "user" and not last.get("name"):
        content = last.get("content")
        if image is None:
            prompt = text_from_content(content, where)
        else:
            prompt = content_from_parts(content, where, image)
        history = turns[:-1]
    else:
        prompt = ""
        history = turns
    if history:
        rendered = "\n".join(_render_turn(m, f"messages.{i}") for i, m in history)
        lead = "<conversation_history>\n" + rendered + "\n</conversation_history>"
        if isinstance(prompt, list):
            prompt = [{"type": "text", "text": lead}, *prompt]
        elif prompt:
            prompt = f"{lead}\n\n{prompt}"
        else:
            prompt = f"{lead}\n\nContinue the conversation: write the next assistant message."
    if isinstance(prompt, str) and not prompt.strip():
        raise InvalidRequest(f"{where} must not be empty", param=where)
    try:
        json.dumps([prompt, system_prompt], ensure_ascii=False).encode()
    except UnicodeEncodeError:  # `"\ud800"` in the request JSON: not writable as UTF-8
        raise InvalidRequest(
            "messages contain a lone UTF-16 surrogate (invalid Unicode)", param="messages"
        ) from None
    return CliInput(system_prompt=system_prompt, prompt=prompt)


def conversation_from_messages(messages: Sequence[ChatMessage]) -> Conversation | None:
    """The plain user/assistant exchange, or None when it holds anything else."""
    turns: list[tuple[Role, str]] = []
    for message in messages:
        role = message.get("role")
        if role in INSTRUCTION_ROLES:
            continue
        if role != "user" and role != "assistant":
            return None
        if message.get("name") or message.get("tool_calls") or message.get("function_call"):
            return None
        try:
            text = text_from_content(message.get("content"), "content")
        except InvalidRequest:
            return None
        turns.append((role, text))
    return tuple(turns) if turns else None
