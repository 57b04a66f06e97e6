"""CLI events -> the OpenAI Response object (`POST /v1/responses` without `stream`).

The answer's text is one `message` output item (`output_text` part); each client tool call
the answer ends at is a `function_call` item whose `call_id` is the model's tool_use id (the
id a `function_call_output` answers). `status` is `completed`, or `incomplete` with
`incomplete_details.reason` `max_output_tokens` (the upstream stopped at the output limit) or
`content_filter` (a refusal). The request's settings are echoed as OpenAI echoes them.
Pure: no I/O. stream.py builds the same object for the stream's lifecycle events.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ...engine.structured import output_text
from ...protocol.events import CliEvent, Result, ToolCallsPending
from ...protocol.wire import Usage
from ..answer import WholeAnswer
from ..openai_chat.tool_calls import MessageToolCall, forced_call
from ..openai_chat.tools import NO_TOOLS, ToolPlan

TurnEnd: TypeAlias = Result | ToolCallsPending
Json: TypeAlias = dict[str, Any]

INCOMPLETE: dict[str, str] = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}


def new_id(prefix: str) -> str:
    """`resp_…`, `msg_…`, `fc_…`: OpenAI's prefixes, 48 hex digits."""
    return f"{prefix}_{secrets.token_hex(24)}"


def _echo_tool(tool: object) -> object:
    if not isinstance(tool, dict):
        return tool
    return {
        "type": "function",
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """What a Response says besides its output: its id and the request's settings."""

    id: str
    created_at: int
    model: str
    echo: Mapping[str, Any]  # the request's settings, as the Response shows them

    @classmethod
    def from_body(cls, body: Mapping[str, Any], response_id: str, created_at: int) -> ResponseMeta:
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        text = body.get("text") if isinstance(body.get("text"), dict) else {}
        fmt = text.get("format") if isinstance(text, dict) else None
        echo = {
            "instructions": body.get("instructions"),
            "tools": [_echo_tool(t) for t in body.get("tools") or []],
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "metadata": body.get("metadata") or {},
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "max_output_tokens": body.get("max_output_tokens"),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": (reasoning or {}).get("effort"), "summary": None},
            "store": body.get("store") is not False,
            "text": {"format": fmt or {"type": "text"}},
            "truncation": "disabled",
            "background": False,
            "service_tier": "default",
        }
        if isinstance(body.get("user"), str):
            echo["user"] = body["user"]
        return cls(response_id, created_at, body["model"], echo)


def usage_of(usage: Usage) -> Json:
    """The CLI's Anthropic usage -> ResponseUsage (cache reads and writes count as input)."""
    cached = usage.get("cache_read_input_tokens", 0)
    written = usage.get("cache_creation_input_tokens", 0)
    prompt = usage.get("input_tokens", 0) + cached + written
    output = usage.get("output_tokens", 0)
    reasoning = usage.get("output_tokens_details", {}).get("thinking_tokens", 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


def response_object(
    meta: ResponseMeta,
    output: list[Json],
    *,
    status: str = "completed",
    usage: Json | None = None,
    incomplete: str | None = None,
    error: Json | None = None,
) -> Json:
    """The Response object (openapi.yaml `ResponseObject`); `usage` only once the answer is."""
    response: Json = {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": meta.model,
        "output": output,
        **meta.echo,
    }
    if usage is not None:
        response["usage"] = usage
    return response


def text_part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> Json:
    """An assistant message output item; `text` None: opened, no part yet (a stream)."""
    content = [] if text is None else [text_part(text)]
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(item_id: str, call: MessageToolCall, status: str) -> Json:
    fn = call["function"]
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call["id"],
        "name": fn["name"],
        "arguments": fn["arguments"],
        "status": status,
    }


def ending(end: TurnEnd, stop_reason: str | None) -> tuple[str, str | None]:
    """(status, incomplete reason) of an answer."""
    if isinstance(end, ToolCallsPending):
        return "completed", None
    reason = INCOMPLETE.get(end.stop_reason or stop_reason or "")
    return ("incomplete", reason) if reason else ("completed", None)


class ResponseBuilder:
    """Collects a whole turn into one Response. `structured`: the answer is the checked
    `result.structured_output` (text.format json_schema); `plan`: the request's tools (a
    forced function answers as one call of it)."""

    def __init__(self, meta: ResponseMeta, *, structured: bool = False, plan: ToolPlan = NO_TOOLS):
        self.meta = meta
        self.structured = structured
        self.plan = plan
        self._answer = WholeAnswer(plan)
        self._calls = self._answer.calls

    def feed(self, event: CliEvent) -> None:
        if not self.structured:
            self._answer.feed(event)

    def build(self, end: TurnEnd) -> Json:
        text = self._answer.text
        calls: list[MessageToolCall] = []
        if isinstance(end, ToolCallsPending):
            self._calls.pending(end)
            calls = self._calls.calls
        elif self.structured:
            text = output_text(end)
            if self.plan.forced is not None:
                text, calls = "", [forced_call(self.plan.forced, text)]
        status, incomplete = ending(end, self._answer.stop_reason)
        output: list[Json] = []
        if text or not calls:
            output.append(message_item(new_id("msg"), text, status))
        output += [call_item(new_id("fc"), call, "completed") for call in calls]
        return response_object(
            self.meta, output, status=status, usage=usage_of(end.usage), incomplete=incomplete
        )
