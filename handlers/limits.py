"""Request size limits beyond the body cap: how many messages, and how big each may be."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cli_bridge.errors import InvalidRequest


def text_size(value: Any) -> int:
    """Characters in every string inside a JSON value (content, tool calls, names ...)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def check_messages(
    messages: Sequence[Any],
    *,
    param: str = "messages",
    where: Callable[[int], str] | None = None,
    max_messages: int,
    max_chars: int,
) -> None:
    """400 with `param` naming the culprit when a request is over a limit; `param` is the
    field holding the list (`messages`, or `input` for OpenAI Responses), `where(i)` the field
    of message i (default `param.i`; a Responses conversation rebuilt from a stored chain
    names where each message came from)."""
    if len(messages) > max_messages:
        raise InvalidRequest(
            f"Too many messages: {len(messages)} (this proxy accepts at most {max_messages}).",
            param=param,
            code="too_many_messages",
        )
    for i, message in enumerate(messages):
        size = text_size(message)
        if size > max_chars:
            field = where(i) if where is not None else f"{param}.{i}"
            raise InvalidRequest(
                f"{field} is too long: {size} characters "
                f"(this proxy accepts at most {max_chars} per message).",
                param=field,
                code="message_too_long",
            )
