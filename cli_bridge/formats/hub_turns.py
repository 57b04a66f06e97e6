"""Building hub turns (protocol/blocks.py) the way every surface needs them: consecutive
turns of one role merged (the Messages API alternates roles), blank text blocks left out
(the API refuses them), a one-text-block turn as the plain stdin line, text the CLI cannot be
given refused, and the new turn that asks for the next assistant message when a conversation
ends with one (the CLI cannot prefill an answer). Pure.
"""

from __future__ import annotations

import json

from ..errors import InvalidRequest
from ..protocol.blocks import CliMessage, ContentBlock, UserContent, as_blocks

CONTINUE_PROMPT = "Continue the conversation: write the next assistant message."


def append_turn(turns: list[CliMessage], role: str, content: str | list[ContentBlock]) -> None:
    """Add a turn, merging it into the last one when the role repeats."""
    if not turns or turns[-1]["role"] != role:
        turns.append({"role": "user" if role == "user" else "assistant", "content": content})
        return
    last = turns[-1]
    last["content"] = [*as_blocks(last["content"]), *as_blocks(content)]


def is_empty(content: UserContent) -> bool:
    return all(b["type"] == "text" and not b["text"].strip() for b in as_blocks(content))


def without_blank_text(content: UserContent) -> UserContent:
    if isinstance(content, str):
        return content
    return [b for b in content if b["type"] != "text" or b["text"].strip()]


def plain(content: UserContent) -> UserContent:
    """A turn of one text block as its text: the stdin line the CLI has always been given
    (the live-process digest counts the two forms as the same)."""
    if isinstance(content, list) and len(content) == 1 and content[0]["type"] == "text":
        return content[0]["text"]
    return content


def check_writable(value: object, param: str = "messages") -> None:
    """400 for text the CLI cannot be given: `"\\ud800"` in the request JSON is no UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidRequest(
            "messages contain a lone UTF-16 surrogate (invalid Unicode)", param=param
        ) from None
