"""CLI events -> the OpenAI Responses event stream (`stream: true`).

The sequence, as OpenAI sends it: `response.created` and `response.in_progress` (the
Response, `in_progress`, no output yet); for the text, `response.output_item.added` (a
`message` item), `response.content_part.added`, `response.output_text.delta` per piece, then
`response.output_text.done`, `response.content_part.done` and `response.output_item.done`;
for each client tool call, `response.output_item.added` (a `function_call` item),
`response.function_call_arguments.delta` per piece of its arguments, then
`.function_call_arguments.done` and `response.output_item.done`; last `response.completed`
(or `response.incomplete`) with the whole Response. A failure after the stream opened is an
`error` event, then `response.failed`. Every payload carries its `type` and a
`sequence_number` counting from 0; the `response.*` lifecycle events nest the Response.
Pure: handlers/sse.py does the framing (`event:` + `data:` lines, no `[DONE]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...engine.structured import output_text
from ...protocol.events import (
    CliEvent,
    ToolCallsPending,
)
from ..answer import StreamedAnswer
from ..openai_chat.tool_calls import ToolCallDelta, forced_call
from ..openai_chat.tools import NO_TOOLS, ToolPlan
from .response import (
    Json,
    ResponseMeta,
    TurnEnd,
    call_item,
    ending,
    message_item,
    new_id,
    response_object,
    text_part,
    usage_of,
)

# OpenAI's ResponseErrorCode values a failed Response may carry.
FAILED_CODES = ("rate_limit_exceeded",)


class ResponsesStreamEncoder:
    """The Responses events of one turn, for handlers/sse.py (`event:` lines, no [DONE]).
    `final`: the Response the stream ended with (for the store), once it has."""

    event_names = True

    def __init__(
        self, meta: ResponseMeta, *, structured: bool = False, plan: ToolPlan = NO_TOOLS
    ) -> None:
        self.meta = meta
        self.structured = structured
        self.plan = plan
        self.final: Json | None = None
        self._seq = 0
        self._answer = StreamedAnswer(plan)
        self._calls = self._answer.calls
        self.output: list[Json] = []  # items in output order (open ones still growing)
        self._open_text: int | None = None  # output index of the open message item
        self._call_items: dict[int, int] = {}  # call index -> output index
        self._closed: set[int] = set()
        self._finish_seq: int | None = None

    def _event(self, kind: str, **fields: Any) -> Json:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return payload

    def _lifecycle(self, kind: str, response: Json) -> Json:
        return self._event(kind, response=response)

    def opening(self) -> list[Json]:
        response = response_object(self.meta, [], status="in_progress")
        return [
            self._lifecycle("response.created", response),
            self._lifecycle("response.in_progress", response),
        ]

    # -- text ---------------------------------------------------------------------------

    def _open_text_item(self) -> list[Json]:
        if self._open_text is not None:
            return []
        index = len(self.output)
        item = message_item(new_id("msg"), None, "in_progress")
        self.output.append(item)
        self._open_text = index
        added = self._event("response.output_item.added", output_index=index, item=dict(item))
        item["content"] = [text_part("")]
        part = self._event(
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part=text_part(""),
        )
        return [added, part]

    def _text_piece(self, piece: str) -> list[Json]:
        if not piece:
            return []
        out = self._open_text_item()
        index = self._open_text
        assert index is not None
        item = self.output[index]
        item["content"][0]["text"] += piece
        out.append(
            self._event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        )
        return out

    def _close_text(self, status: str = "completed") -> list[Json]:
        if self._open_text is None:
            return []
        index, self._open_text = self._open_text, None
        self._closed.add(index)
        item = self.output[index]
        part = item["content"][0]
        item["status"] = status
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return [
            self._event("response.output_text.done", **ids, text=part["text"], logprobs=[]),
            self._event("response.content_part.done", **ids, part=dict(part)),
            self._event("response.output_item.done", output_index=index, item=dict(item)),
        ]

    # -- tool calls ---------------------------------------------------------------------

    def _call_deltas(self, deltas: list[ToolCallDelta]) -> list[Json]:
        out: list[Json] = []
        for delta in deltas:
            call_index = delta["index"]
            fn = delta.get("function", {})
            if "id" in delta:  # a new call: its item, then its arguments so far
                out += self._close_text()
                index = len(self.output)
                call = self._calls.calls[call_index]
                item = call_item(new_id("fc"), call, "in_progress")
                item["arguments"] = ""
                self.output.append(item)
                self._call_items[call_index] = index
                out.append(
                    self._event("response.output_item.added", output_index=index, item=dict(item))
                )
            piece = fn.get("arguments", "")
            if piece:
                index = self._call_items[call_index]
                item = self.output[index]
                item["arguments"] += piece
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=piece,
                    )
                )
        return out

    def _close_calls(self) -> list[Json]:
        out: list[Json] = []
        for index in self._call_items.values():
            if index in self._closed:
                continue
            self._closed.add(index)
            item = self.output[index]
            item["status"] = "completed"
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    name=item["name"],
                    output_index=index,
                    arguments=item["arguments"],
                )
            )
            out.append(
                self._event("response.output_item.done", output_index=index, item=dict(item))
            )
        return out

    # -- events -------------------------------------------------------------------------

    def feed(self, event: CliEvent) -> list[Json]:
        if self.structured:
            return []
        piece = self._answer.feed(event)
        return self._text_piece(piece.text) + self._call_deltas(piece.calls)

    def finish(self, end: TurnEnd) -> list[Json]:
        self._finish_seq = self._seq  # error() after finish(): these payloads were never sent
        out: list[Json] = []
        if isinstance(end, ToolCallsPending):
            out += self._call_deltas(self._calls.pending(end))
        elif self.structured:
            answer = output_text(end)
            if self.plan.forced is not None:
                self._calls.calls.append(forced_call(self.plan.forced, answer))
                out += self._call_deltas(
                    [{"index": 0, "id": "", "function": {"arguments": answer}}]
                )
            else:
                out += self._text_piece(answer)
        status, incomplete = ending(end, self._answer.stop_reason)
        if not self.output:  # an empty answer is still one (empty) message
            out += self._open_text_item()
        out += self._close_text("incomplete" if status == "incomplete" else "completed")
        out += self._close_calls()
        final = response_object(
            self.meta, self.output, status=status, usage=usage_of(end.usage), incomplete=incomplete
        )
        self.final = final
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        out.append(self._lifecycle(kind, final))
        return out

    def error(self, body: Mapping[str, Any]) -> list[Json]:
        """The failure's events. After finish() (the store could not keep the answer, so its
        last payloads are not sent) the sequence goes on from the last payload sent."""
        if self._finish_seq is not None:
            self._seq, self._finish_seq = self._finish_seq, None
        given = body.get("error")
        detail: Mapping[str, Any] = given if isinstance(given, dict) else {}
        message = str(detail.get("message") or "The server had an error processing your request.")
        code = detail.get("code")
        failed_code = code if code in FAILED_CODES else "server_error"
        failed = response_object(
            self.meta, self.output, status="failed", error={"code": failed_code, "message": message}
        )
        return [
            self._event("error", code=code, message=message, param=detail.get("param")),
            self._lifecycle("response.failed", failed),
        ]

    def done(self) -> None:
        return None
