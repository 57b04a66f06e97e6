"""The hub between API surfaces: the CLI's own Anthropic-shaped messages and content blocks.

Every surface converts its request into these shapes and its response from the CLI's events;
the engine only ever sees these, so a new surface adds conversions and nothing else.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypeAlias, TypedDict

Role: TypeAlias = Literal["user", "assistant"]


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class Base64Source(TypedDict):
    type: Literal["base64"]
    media_type: str
    data: str


class ImageBlock(TypedDict):
    type: Literal["image"]
    source: Base64Source


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, object]


class ToolResultBlock(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock]
    is_error: NotRequired[bool]


ContentBlock: TypeAlias = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock

# What one user turn written to the CLI's stdin holds: plain text or content blocks.
UserContent: TypeAlias = str | list[ContentBlock]


class CliMessage(TypedDict):
    """One turn as the Messages API (and the CLI's transcript) holds it."""

    role: Role
    content: str | list[ContentBlock]


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: NotRequired[int]
    cache_read_input_tokens: NotRequired[int]


class AssistantMessage(TypedDict):
    """A complete Anthropic API message, as the CLI's transcript stores an assistant turn."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage


def as_blocks(content: UserContent) -> list[ContentBlock]:
    """One form for a turn's content: a string is one text block, `""` none."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content)
