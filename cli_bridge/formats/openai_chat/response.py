"""CLI events -> OpenAI chat objects: chat.completion, chat.completion.chunk and usage.

State machines here consume typed events and return plain dicts; they do no I/O, so every
mapping is unit-tested without a process. Errors are rendered by handlers/errors.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
)
from ...protocol.text import TextAssembler

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason_from_stop_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage_from_result(usage: dict[str, Any]) -> dict[str, Any]:
    """The CLI's final Anthropic usage -> OpenAI usage (cache reads and writes count as prompt)."""

    def num(source: Any, key: str) -> int:
        value = source.get(key) if isinstance(source, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    cached = num(usage, "cache_read_input_tokens")
    prompt = num(usage, "input_tokens") + cached + num(usage, "cache_creation_input_tokens")
    completion = num(usage, "output_tokens")
    reasoning = num(usage.get("output_tokens_details"), "thinking_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class CompletionBuilder:
    """Collects a whole turn into one `chat.completion` object."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self._text = TextAssembler()
        self._parts: list[str] = []
        self._stop_reason: str | None = None

    def feed(self, event: CliEvent) -> None:
        if isinstance(event, AssistantBlock) and event.kind == "text" and not event.is_api_error:
            self._parts.append(self._text.on_text(event.message_id, event.text))
        elif isinstance(event, MessageDelta) and event.stop_reason:
            self._stop_reason = event.stop_reason

    def build(self, result: Result) -> dict[str, Any]:
        stop_reason = result.stop_reason or self._stop_reason
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(self._parts),
                        "refusal": None,
                        "annotations": [],
                    },
                    "finish_reason": finish_reason_from_stop_reason(stop_reason),
                    "logprobs": None,
                }
            ],
            "usage": usage_from_result(result.usage),
            "service_tier": "default",
        }


class ChunkBuilder:
    """Turns events into `chat.completion.chunk` objects with a stable id, created and model.

    With `include_usage` every chunk carries `"usage": null` and a last chunk the usage, as
    OpenAI sends them; without it no chunk has a `usage` field (OpenAI's spec: "only present
    when you set `stream_options: {"include_usage": true}`").
    """

    def __init__(
        self, completion_id: str, created: int, model: str, *, include_usage: bool = False
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self._text = TextAssembler()
        self._stop_reason: str | None = None
        # The API message being streamed (CLI 2.1.197 and older omit `api_message_id` on
        # stream events, so the id comes from `message_start`), and every streamed message.
        self._message_id: str | None = None
        self._streamed: set[str | None] = set()

    def _chunk(
        self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return chunk

    def _delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return self._chunk([choice])

    def first(self) -> dict[str, Any]:
        """The opening chunk that carries the role, as OpenAI sends it."""
        return self._delta({"role": "assistant", "content": "", "refusal": None})

    def feed(self, event: CliEvent) -> list[dict[str, Any]]:
        piece = ""
        if isinstance(event, MessageStart):
            self._message_id = event.message_id
            self._streamed.add(event.message_id)
        elif isinstance(event, BlockStart) and event.kind == "text":
            self._text.on_block_start(event.message_id or self._message_id)
        elif isinstance(event, TextDelta):
            message_id = event.message_id or self._message_id
            self._streamed.add(message_id)
            piece = self._text.on_text(message_id, event.text)
        elif (
            isinstance(event, AssistantBlock)
            and event.kind == "text"
            and not event.is_api_error
            and event.message_id not in self._streamed
        ):
            # A message that came without stream events: the CLI's non-streaming fallback
            # after a stalled or failed stream. Its text arrives whole, only here.
            piece = self._text.on_text(event.message_id, event.text)
        elif isinstance(event, MessageDelta) and event.stop_reason:
            self._stop_reason = event.stop_reason
        return [self._delta({"content": piece})] if piece else []

    def finish(self, result: Result, include_usage: bool | None = None) -> list[dict[str, Any]]:
        """The finish chunk, then the usage chunk when usage was asked for.

        `include_usage` (None: as constructed) is for callers that do not pass it at
        construction; passing True here alone still sends the usage chunk."""
        if include_usage is not None:
            self.include_usage = include_usage
        reason = finish_reason_from_stop_reason(result.stop_reason or self._stop_reason)
        chunks = [self._delta({}, reason)]
        if self.include_usage:
            chunks.append(self._chunk([], usage_from_result(result.usage)))
        return chunks


class ChatStreamEncoder:
    """`chat.completion.chunk` payloads for handlers/sse.py: `data:` lines only, an error as
    its envelope, and `data: [DONE]` last, as OpenAI streams them."""

    event_names = False

    def __init__(self, chunks: ChunkBuilder, *, include_usage: bool) -> None:
        self.chunks = chunks
        self.include_usage = include_usage

    def opening(self) -> list[dict[str, Any]]:
        return [self.chunks.first()]

    def feed(self, event: CliEvent) -> list[dict[str, Any]]:
        return self.chunks.feed(event)

    def finish(self, result: Result) -> list[dict[str, Any]]:
        return self.chunks.finish(result, self.include_usage)

    def error(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return [body]

    def done(self) -> str:
        return "[DONE]"
