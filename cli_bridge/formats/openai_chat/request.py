"""OpenAI chat messages -> what the CLI reads: a system prompt, the prior turns, one new turn.

The history reaches the model as the real turns it was (turns.py's rules; the engine resumes
a transcript of them or finds the live process that holds them). The new turn is the last
user turn: the last user message's content, or in an agent loop the tool results (with the
text of a user message after them). Two kinds of request keep the older rendering of the whole
conversation as one text prompt (`<conversation_history>…`), and say so with `flattened`:

- a history holding tool calls or tool results in a request that offers no tools (no
  `tools`, or `tool_choice: none` with none in the history): as tool blocks the upstream
  refuses them unless the request defines tools. With tools offered they are real turns,
  the functions named as the model saw them (`mcp__client__<name>`), checked against the
  Messages API's rules on tool blocks (protocol/history_rules.py) before anything starts;
- a conversation whose first turn is the assistant's, or with a turn that has no text (a
  blank message between others): the Messages API wants a user turn first and refuses blank
  turns.

Text blocks that are blank are left out of every turn (the Messages API refuses them).

A conversation that ends with an assistant message (OpenAI allows it; the CLI cannot prefill
an answer) keeps that message as the last turn of the history, and the new user turn asks for
the next assistant message (`CONTINUE_PROMPT`). Pure functions: tested without processes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Required, TypeAlias, TypedDict

from ...errors import InvalidRequest
from ...protocol.blocks import CliMessage, ContentBlock, UserContent
from ...protocol.client_tools import ToolSet, cli_tool_name
from ..hub_turns import (
    CONTINUE_PROMPT,
    check_writable,
    is_empty,
    plain,
    without_blank_text,
)
from ..tools_common import check_tool_turns
from .turns import (
    IMAGE_PARTS,
    INSTRUCTION_ROLES,
    ImageConverter,
    text_of_part,
    turns_from_messages,
)

TOOL_ROLES = ("tool", "function")
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
    prompt: UserContent  # the new user turn
    history: tuple[CliMessage, ...] = ()  # the turns before it
    flattened: bool = False  # the prompt renders the whole conversation as text


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
    return text_of_part(part, kind, where)


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


def flattened_input(
    messages: Sequence[ChatMessage], *, image: ImageConverter | None = None
) -> CliInput:
    """Split instructions from the conversation and render the conversation as one prompt;
    with `image`, the last user message's image parts become image blocks (images earlier in
    such a conversation are refused)."""
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
            prompt = f"{lead}\n\n{CONTINUE_PROMPT}"
    if isinstance(prompt, str) and not prompt.strip():
        raise InvalidRequest(f"{where} must not be empty", param=where)
    check_writable([prompt, system_prompt])
    return CliInput(system_prompt=system_prompt, prompt=prompt, flattened=True)


def has_tool_messages(messages: Sequence[ChatMessage]) -> bool:
    """Whether the conversation holds tool calls or tool results."""
    return any(
        m["role"] in TOOL_ROLES
        or (m["role"] == "assistant" and bool(m.get("tool_calls") or m.get("function_call")))
        for m in messages
    )


def needs_flattening(messages: Sequence[ChatMessage], *, tools_offered: bool = False) -> bool:
    """Whether the conversation cannot go as real turns (the module's two cases)."""
    turns = [m for m in messages if m["role"] not in INSTRUCTION_ROLES]
    if turns and turns[0]["role"] == "assistant":
        return True
    return not tools_offered and has_tool_messages(turns)


def input_from_messages(
    messages: Sequence[ChatMessage],
    *,
    image: ImageConverter | None = None,
    tools: ToolSet | None = None,
) -> CliInput:
    """The system text, the prior turns and the new user turn (rules: module docstring).
    `tools`: what the request offers the model (tool_plan), None for nothing."""
    if needs_flattening(messages, tools_offered=tools is not None):
        return flattened_input(messages, image=image)
    name = cli_tool_name if tools is not None else str
    chat = turns_from_messages(messages, image=image, tool_name=name)
    turns: list[CliMessage] = [
        {"role": t["role"], "content": without_blank_text(t["content"])} for t in chat.turns
    ]
    *before, last = turns
    if last["role"] == "assistant":
        before = turns
    if any(is_empty(turn["content"]) for turn in before):
        return flattened_input(messages, image=image)
    if last["role"] == "assistant":
        if tools is not None:
            check_tool_turns([*turns, {"role": "user", "content": CONTINUE_PROMPT}], tools)
        return CliInput(chat.system, CONTINUE_PROMPT, tuple(turns))
    if is_empty(last["content"]):
        i = max(i for i, m in enumerate(messages) if m["role"] not in INSTRUCTION_ROLES)
        raise InvalidRequest(
            f"messages.{i}.content must not be empty", param=f"messages.{i}.content"
        )
    if tools is not None:
        check_tool_turns([*before, last], tools)
    return CliInput(chat.system, plain(last["content"]), tuple(before))
