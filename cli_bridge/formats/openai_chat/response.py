"""CLI events -> OpenAI chat objects: chat.completion, chat.completion.chunk and usage.

State machines here consume typed events and return plain dicts; they do no I/O, so every
mapping is unit-tested without a process. Errors are rendered by handlers/errors.py.

An answer ends with a `Result`, or with `ToolCallsPending` when the model called the
client's tools: then the message carries `tool_calls` (tool_calls.py), `content` is the text
before them (null when none, as OpenAI sends it) and `finish_reason` is `tool_calls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from ...engine.structured import output_text
from ...protocol.events import (
    CliEvent,
    Result,
    ToolCallsPending,
)
from ...protocol.wire import Usage
from ..answer import StreamedAnswer, WholeAnswer
from .tool_calls import MessageToolCall, ToolCallDelta, forced_call, whole_delta
from .tools import NO_TOOLS, ToolPlan

# How an answer ends: the CLI's result, or the engine's stop at client tool calls.
TurnEnd: TypeAlias = Result | ToolCallsPending

FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter"]

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class PromptTokensDetails(TypedDict):
    cached_tokens: int
    audio_tokens: int


class CompletionTokensDetails(TypedDict):
    reasoning_tokens: int
    audio_tokens: int
    accepted_prediction_tokens: int
    rejected_prediction_tokens: int


class CompletionUsage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    completion_tokens_details: CompletionTokensDetails


class ResponseMessage(TypedDict):
    role: Literal["assistant"]
    content: str | None  # null only beside tool_calls
    refusal: None
    annotations: list[object]
    tool_calls: NotRequired[list[MessageToolCall]]


class Choice(TypedDict):
    index: int
    message: ResponseMessage
    finish_reason: FinishReason
    logprobs: None


class ChatCompletion(TypedDict):
    """`chat.completion` (openapi.yaml CreateChatCompletionResponse)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    service_tier: Literal["default"]


class ChunkDelta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str
    refusal: None
    tool_calls: list[ToolCallDelta]


class ChunkChoice(TypedDict):
    index: int
    delta: ChunkDelta
    finish_reason: FinishReason | None
    logprobs: None


class ChatCompletionChunk(TypedDict):
    """`chat.completion.chunk` (openapi.yaml CreateChatCompletionStreamResponse)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[CompletionUsage | None]


def finish_reason_from_stop_reason(stop_reason: str | None) -> FinishReason:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage_from_result(usage: Usage) -> CompletionUsage:
    """The CLI's final Anthropic usage -> OpenAI usage (cache reads and writes count as prompt)."""
    cached = usage.get("cache_read_input_tokens", 0)
    prompt = usage.get("input_tokens", 0) + cached + usage.get("cache_creation_input_tokens", 0)
    completion = usage.get("output_tokens", 0)
    reasoning = usage.get("output_tokens_details", {}).get("thinking_tokens", 0)
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
    """Collects a whole turn into one `chat.completion` object. `structured`: the answer is
    the checked `result.structured_output` (engine/structured.py), the model's text unused.
    `plan`: the request's tools (tools.py): whether client tool calls are surfaced, the
    first only, or the structured answer is the call of a forced function."""

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        *,
        structured: bool = False,
        plan: ToolPlan = NO_TOOLS,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.structured = structured
        self.plan = plan
        self._answer = WholeAnswer(plan)
        self._calls = self._answer.calls

    def feed(self, event: CliEvent) -> None:
        if not self.structured:
            self._answer.feed(event)

    def build(self, end: TurnEnd) -> ChatCompletion:
        text = self._answer.text
        calls: list[MessageToolCall] = []
        content: str | None
        reason: FinishReason
        if isinstance(end, ToolCallsPending):
            self._calls.pending(end)
            content, calls, reason = text or None, self._calls.calls, "tool_calls"
        elif self.structured:
            # A structured answer ends on the StructuredOutput call ("tool_use"): complete.
            answer, reason = output_text(end), "stop"
            content = answer
            if self.plan.forced is not None:
                content, calls = None, [forced_call(self.plan.forced, answer)]
        else:
            content = text
            reason = finish_reason_from_stop_reason(end.stop_reason or self._answer.stop_reason)
        message: ResponseMessage = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": [],
        }
        if calls:
            message["tool_calls"] = calls
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": reason, "logprobs": None}
            ],
            "usage": usage_from_result(end.usage),
            "service_tier": "default",
        }


class ChunkBuilder:
    """Turns events into `chat.completion.chunk` objects with a stable id, created and model.

    With `include_usage` every chunk carries `"usage": null` and a last chunk the usage, as
    OpenAI sends them; without it no chunk has a `usage` field (OpenAI's spec: "only present
    when you set `stream_options: {"include_usage": true}`"). `structured`: the checked
    object arrives whole, as one content delta just before the finish chunk. `plan`: as for
    CompletionBuilder; a call streams as a delta with its id, type and name, then one delta
    per piece of its arguments (`index`: the call's position among this answer's calls).
    """

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        *,
        include_usage: bool = False,
        structured: bool = False,
        plan: ToolPlan = NO_TOOLS,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self.structured = structured
        self.plan = plan
        self._answer = StreamedAnswer(plan)
        self._calls = self._answer.calls

    def _chunk(
        self, choices: list[ChunkChoice], usage: CompletionUsage | None = None
    ) -> ChatCompletionChunk:
        chunk: ChatCompletionChunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return chunk

    def _delta(
        self, delta: ChunkDelta, finish_reason: FinishReason | None = None
    ) -> ChatCompletionChunk:
        choice: ChunkChoice = {
            "index": 0,
            "delta": delta,
            "finish_reason": finish_reason,
            "logprobs": None,
        }
        return self._chunk([choice])

    def _tool_calls(self, deltas: list[ToolCallDelta]) -> list[ChatCompletionChunk]:
        """One chunk per delta, as OpenAI streams them."""
        return [self._delta({"tool_calls": [delta]}) for delta in deltas]

    def first(self) -> ChatCompletionChunk:
        """The opening chunk that carries the role, as OpenAI sends it."""
        return self._delta({"role": "assistant", "content": "", "refusal": None})

    def feed(self, event: CliEvent) -> list[ChatCompletionChunk]:
        if self.structured:
            return []
        piece = self._answer.feed(event)
        chunks = [self._delta({"content": piece.text})] if piece.text else []
        return chunks + self._tool_calls(piece.calls)

    def finish(self, end: TurnEnd) -> list[ChatCompletionChunk]:
        """The finish chunk, then the usage chunk when usage was asked for."""
        if isinstance(end, ToolCallsPending):
            chunks = [*self._tool_calls(self._calls.pending(end)), self._delta({}, "tool_calls")]
        elif self.structured:
            answer = output_text(end)
            delta: ChunkDelta = {"content": answer}
            if self.plan.forced is not None:
                delta = {"tool_calls": [whole_delta(0, forced_call(self.plan.forced, answer))]}
            chunks = [self._delta(delta), self._delta({}, "stop")]
        else:
            reason = finish_reason_from_stop_reason(end.stop_reason or self._answer.stop_reason)
            chunks = [self._delta({}, reason)]
        if self.include_usage:
            chunks.append(self._chunk([], usage_from_result(end.usage)))
        return chunks


class ChatStreamEncoder:
    """`chat.completion.chunk` payloads for handlers/sse.py: `data:` lines only, an error as
    its envelope, and `data: [DONE]` last, as OpenAI streams them."""

    event_names = False

    def __init__(self, chunks: ChunkBuilder) -> None:
        self.chunks = chunks

    def opening(self) -> list[ChatCompletionChunk]:
        return [self.chunks.first()]

    def feed(self, event: CliEvent) -> list[ChatCompletionChunk]:
        return self.chunks.feed(event)

    def finish(self, end: TurnEnd) -> list[ChatCompletionChunk]:
        return self.chunks.finish(end)

    def error(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return [body]

    def done(self) -> str:
        return "[DONE]"
