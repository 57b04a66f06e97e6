"""Typed events parsed from the CLI's `--output-format stream-json` lines.

The CLI prints one JSON object per line; this module turns a line into a small dataclass so the
rest of the bridge never digs through raw dicts. Pure: no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .client_tools import ToolCall
from .wire import USAGE_COUNTS, JsonObject, JsonValue, OutputTokensDetails, Usage

# The content-block types of the Messages API the bridge tells apart; any other is "other".
BlockKind: TypeAlias = Literal[
    "text",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "server_tool_use",
    "web_search_tool_result",
    "other",
]


class MalformedLine(ValueError):
    """A stdout line that is not a JSON object."""


@dataclass(frozen=True, slots=True)
class SystemInit:
    session_id: str | None
    model: str | None
    cli_version: str | None


@dataclass(frozen=True, slots=True)
class MessageStart:
    """The upstream accepted the request and began its answer."""

    message_id: str | None
    model: str | None
    usage: Usage | None = None  # the input side (output counts arrive with MessageDelta)


@dataclass(frozen=True, slots=True)
class BlockStart:
    message_id: str | None
    index: int
    kind: BlockKind
    tool_id: str | None = None  # kind "tool_use": the call's id and the name the model used
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class InputJsonDelta:
    """A fragment of a tool_use block's arguments, as JSON text."""

    message_id: str | None
    index: int
    partial_json: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    message_id: str | None
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    message_id: str | None
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class MessageDelta:
    message_id: str | None
    stop_reason: str | None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class AssistantBlock:
    """One complete content block (the CLI prints one `assistant` line per block)."""

    message_id: str | None
    kind: BlockKind
    text: str
    is_api_error: bool = False
    api_error_status: int | None = None
    raw: JsonObject = field(default_factory=dict, repr=False)
    # kind "tool_use": the call's id, the name the model used and its arguments.
    tool_id: str | None = None
    tool_name: str | None = None
    tool_input: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class ApiRetry:
    attempt: int
    max_retries: int | None
    retry_delay_ms: float | None
    error_status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """A rate-limit report from the CLI (reset times, plan usage); kept for /health."""

    info: JsonObject  # passed through to /health as the CLI sent it


@dataclass(frozen=True, slots=True)
class Result:
    subtype: str
    is_error: bool
    text: str
    usage: Usage
    stop_reason: str | None
    terminal_reason: str | None
    api_error_status: int | None
    errors: list[str]
    session_id: str | None
    raw: JsonObject = field(default_factory=dict, repr=False)
    # With a JSON schema (engine/structured.py): the object the model gave `StructuredOutput`.
    structured_output: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class ToolCallsPending:
    """The engine's, not the CLI's: the turn stopped at client tool calls. The process waits
    with the calls open (cli_bridge/tools) until the client's next request brings results;
    the answer ends here (OpenAI's finish_reason `tool_calls`). `usage`: this answer's."""

    calls: tuple[ToolCall, ...]
    usage: Usage


@dataclass(frozen=True, slots=True)
class Other:
    """Any event the bridge does not act on (status, user echoes, control responses, ...)."""

    type: str
    subtype: str | None
    raw: JsonObject = field(default_factory=dict, repr=False)


CliEvent = (
    SystemInit
    | MessageStart
    | BlockStart
    | InputJsonDelta
    | TextDelta
    | ThinkingDelta
    | MessageDelta
    | AssistantBlock
    | ApiRetry
    | RateLimitInfo
    | Result
    | ToolCallsPending
    | Other
)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: object) -> Mapping[str, object]:
    """`value` when it is a JSON object, else an empty one (JSON keys are always strings)."""
    return value if isinstance(value, dict) else {}


def block_kind(value: object) -> BlockKind:
    match value:
        case (
            "text"
            | "thinking"
            | "redacted_thinking"
            | "tool_use"
            | "server_tool_use"
            | "web_search_tool_result"
        ):
            return value
    return "other"


def usage_from_json(value: object) -> Usage:
    """The integer token counts of a `usage` object; anything else in it is dropped."""
    raw = _object(value)
    usage: Usage = {}
    for key in USAGE_COUNTS:
        count = _int_or_none(raw.get(key))
        if count is not None:
            usage[key] = count
    thinking = _int_or_none(_object(raw.get("output_tokens_details")).get("thinking_tokens"))
    if thinking is not None:
        details: OutputTokensDetails = {"thinking_tokens": thinking}
        usage["output_tokens_details"] = details
    return usage


def _delay_or_none(value: object) -> float | None:
    """A finite, non-negative number of milliseconds (JSON allows 1e999 and 400-digit ints)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        delay = float(value)
    except OverflowError:
        return None
    return delay if math.isfinite(delay) and delay >= 0 else None


def event_from_line(line: bytes | str) -> CliEvent:
    """Parse one stdout line; raises MalformedLine when it is not a JSON object."""
    try:
        obj: JsonValue = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedLine(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedLine("not a JSON object")
    return event_from_dict(obj)


def event_from_dict(obj: JsonObject) -> CliEvent:
    kind = obj.get("type")
    subtype = _str_or_none(obj.get("subtype"))
    if kind == "stream_event":
        return _stream_event(obj)
    if kind == "assistant":
        return _assistant(obj)
    if kind == "result":
        return _result(obj)
    if kind == "system" and subtype == "init":
        return SystemInit(
            _str_or_none(obj.get("session_id")),
            _str_or_none(obj.get("model")),
            _str_or_none(obj.get("claude_code_version")),
        )
    if kind == "system" and subtype == "api_retry":
        return ApiRetry(
            attempt=_int_or_none(obj.get("attempt")) or 0,
            max_retries=_int_or_none(obj.get("max_retries")),
            retry_delay_ms=_delay_or_none(obj.get("retry_delay_ms")),
            error_status=_int_or_none(obj.get("error_status")),
            error=_str_or_none(obj.get("error")),
        )
    if kind == "rate_limit_event" or (kind == "system" and subtype == "rate_limit"):
        info = obj.get("rate_limit_info")
        return RateLimitInfo(info if isinstance(info, dict) else dict(obj))
    return Other(str(kind), subtype, obj)


def _stream_event(obj: JsonObject) -> CliEvent:
    event = obj.get("event")
    if not isinstance(event, dict):
        return Other("stream_event", None, obj)
    message_id = _str_or_none(obj.get("api_message_id"))
    etype = event.get("type")
    index = _int_or_none(event.get("index")) or 0
    if etype == "content_block_delta":
        delta = _object(event.get("delta"))
        text, thinking = delta.get("text"), delta.get("thinking")
        partial = delta.get("partial_json")
        if delta.get("type") == "text_delta" and isinstance(text, str):
            return TextDelta(message_id, index, text)
        if delta.get("type") == "thinking_delta" and isinstance(thinking, str):
            return ThinkingDelta(message_id, index, thinking)
        if delta.get("type") == "input_json_delta" and isinstance(partial, str):
            return InputJsonDelta(message_id, index, partial)
    elif etype == "content_block_start":
        block = _object(event.get("content_block"))
        kind = block_kind(block.get("type"))
        if kind != "tool_use":
            return BlockStart(message_id, index, kind)
        tool_id, name = _str_or_none(block.get("id")), _str_or_none(block.get("name"))
        return BlockStart(message_id, index, kind, tool_id, name)
    elif etype == "message_start":
        message = _object(event.get("message"))
        return MessageStart(
            message_id or _str_or_none(message.get("id")),
            _str_or_none(message.get("model")),
            usage_from_json(message.get("usage")) if "usage" in message else None,
        )
    elif etype == "message_delta":
        stop = _str_or_none(_object(event.get("delta")).get("stop_reason"))
        usage = usage_from_json(event.get("usage")) if "usage" in event else None
        return MessageDelta(message_id, stop, usage)
    return Other("stream_event", _str_or_none(etype), obj)


def _assistant(obj: JsonObject) -> CliEvent:
    message = _object(obj.get("message"))
    content = message.get("content")
    block = _object(content[0] if isinstance(content, list) and content else None)
    kind = block_kind(block.get("type"))
    text = block.get("text") if kind == "text" else block.get("thinking")
    tool_input = block.get("input") if kind == "tool_use" else None
    return AssistantBlock(
        message_id=_str_or_none(message.get("id")),
        kind=kind,
        text=text if isinstance(text, str) else "",
        is_api_error=bool(obj.get("is_api_error_message")) or message.get("model") == "<synthetic>",
        api_error_status=_int_or_none(obj.get("api_error_status")),
        raw=obj,
        tool_id=_str_or_none(block.get("id")) if kind == "tool_use" else None,
        tool_name=_str_or_none(block.get("name")) if kind == "tool_use" else None,
        tool_input=tool_input if isinstance(tool_input, dict) else None,
    )


def _result(obj: JsonObject) -> Result:
    text = obj.get("result")
    errors = obj.get("errors")
    structured = obj.get("structured_output")
    return Result(
        subtype=str(obj.get("subtype")),
        is_error=bool(obj.get("is_error")),
        text=text if isinstance(text, str) else "",
        usage=usage_from_json(obj.get("usage")),
        stop_reason=_str_or_none(obj.get("stop_reason")),
        terminal_reason=_str_or_none(obj.get("terminal_reason")),
        api_error_status=_int_or_none(obj.get("api_error_status")),
        errors=[str(e) for e in errors] if isinstance(errors, list) else [],
        session_id=_str_or_none(obj.get("session_id")),
        raw=obj,
        structured_output=structured if isinstance(structured, dict) else None,
    )
