"""The surface-neutral turn responses (handlers/sse.py, handlers/turn_response.py), driven by a
scripted fake turn: no process, no server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from cli_bridge.errors import CliFailed, ProxyError, RateLimited, UpstreamError
from cli_bridge.formats.openai_chat.response import (
    ChatStreamEncoder,
    ChunkBuilder,
    CompletionBuilder,
)
from cli_bridge.protocol.events import (
    AssistantBlock,
    CliEvent,
    MessageStart,
    Result,
    SystemInit,
    TextDelta,
)
from handlers.sse import KEEPALIVE, SSE_HEADERS, frame, open_stream
from handlers.turn_response import NO_RESULT, TurnResponse

END = object()
MSG = "msg_1"


class FakeTurn:
    """Hands out what the test puts in, like cli_bridge.Turn: events, a ProxyError, or END."""

    def __init__(self, *items: object) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.finished = False
        self.cancelled = False
        for item in items:
            self.put(item)

    def put(self, item: object) -> None:
        self.queue.put_nowait(item)

    async def next(self, timeout: float | None = None) -> CliEvent | None:
        if self.finished:
            return None
        async with asyncio.timeout(timeout):
            item = await self.queue.get()
        if item is END:
            self.finished = True
            return None
        if isinstance(item, ProxyError):
            self.finished = True
            raise item
        return item  # type: ignore[return-value]

    def cancel(self) -> None:
        self.cancelled = True
        self.finished = True


class NamedEncoder:
    """An Anthropic-like encoder: `event:` names, an error as its own event, no terminator."""

    event_names = True

    def opening(self) -> Sequence[Mapping[str, Any]]:
        return [{"type": "message_start"}]

    def feed(self, event: CliEvent) -> Sequence[Mapping[str, Any]]:
        if isinstance(event, TextDelta):
            return [{"type": "content_block_delta", "text": event.text}]
        return []

    def finish(self, result: Result) -> Sequence[Mapping[str, Any]]:
        return [{"type": "message_stop"}]

    def error(self, body: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        return [body]

    def done(self) -> None:
        return None


def result(text: str = "Hi") -> Result:
    usage = {"input_tokens": 3, "output_tokens": 2}
    return Result("success", False, text, usage, "end_turn", None, None, [], "s")


def chat_encoder(include_usage: bool = False) -> ChatStreamEncoder:
    return ChatStreamEncoder(ChunkBuilder("chatcmpl-1", 7, "opus", include_usage=include_usage))


def start() -> MessageStart:
    return MessageStart(MSG, "claude-opus")


async def body_of(response: Any) -> list[str]:
    return [frame async for frame in response.body_iterator]


def data(frames: list[str]) -> list[Any]:
    """The decoded `data:` of each event frame (keep-alive comments skipped)."""
    out = []
    for text in frames:
        line = next((x for x in text.splitlines() if x.startswith("data: ")), None)
        if line is not None:
            raw = line.removeprefix("data: ")
            out.append(raw if raw == "[DONE]" else json.loads(raw))
    return out


async def test_a_failure_before_the_upstream_answers_keeps_its_http_status():
    turn = FakeTurn(SystemInit("s", "opus", "2"), RateLimited("slow down", retry_after=2))
    with pytest.raises(RateLimited):
        await open_stream(turn, chat_encoder(), surface="openai", keepalive=5)
    assert turn.cancelled, "a refused stream must not leave its CLI running"


async def test_a_chat_stream_frames_data_lines_and_ends_with_done():
    turn = FakeTurn(start(), TextDelta(MSG, 0, "Hel"), TextDelta(MSG, 0, "lo"), result())
    response = await open_stream(turn, chat_encoder(True), surface="openai", keepalive=5)
    assert response.status_code == 200
    assert response.media_type == "text/event-stream"
    assert all(response.headers[name] == value for name, value in SSE_HEADERS.items())
    frames = await body_of(response)
    assert all(f.startswith("data: ") and f.endswith("\n\n") for f in frames)
    assert frames[-1] == "data: [DONE]\n\n"
    chunks = data(frames)[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    assert turn.cancelled, "the turn is released once the stream ends"


async def test_a_silent_cli_opens_the_stream_and_gets_keepalives():
    turn = FakeTurn()
    loop = asyncio.get_running_loop()
    response = await asyncio.wait_for(
        open_stream(turn, chat_encoder(), surface="openai", keepalive=0.05), 1
    )
    assert response.status_code == 200, "a silent CLI still opens the stream after one interval"
    for delay, item in ((0.3, start()), (0.31, TextDelta(MSG, 0, "late")), (0.32, result())):
        loop.call_later(delay, turn.put, item)
    frames = await asyncio.wait_for(body_of(response), 2)
    assert frames[0].startswith("data: "), "the opening chunk comes first"
    assert KEEPALIVE == ": keep-alive\n\n"
    assert frames[1] == KEEPALIVE and frames.count(KEEPALIVE) >= 2
    assert frames.index(KEEPALIVE) < next(i for i, f in enumerate(frames) if "late" in f)
    assert frames[-1] == "data: [DONE]\n\n"


async def test_a_failure_after_opening_is_an_openai_error_event_then_done():
    turn = FakeTurn(start(), TextDelta(MSG, 0, "par"), UpstreamError("upstream broke"))
    response = await open_stream(turn, chat_encoder(), surface="openai", keepalive=5)
    frames = await body_of(response)
    assert frames[-1] == "data: [DONE]\n\n"
    assert data(frames)[-2] == {
        "error": {
            "message": "upstream broke",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
    }


async def test_a_failure_after_opening_is_rendered_for_the_anthropic_surface():
    turn = FakeTurn(start(), TextDelta(MSG, 0, "par"), RateLimited("slow down"))
    response = await open_stream(turn, NamedEncoder(), surface="anthropic", keepalive=5)
    frames = await body_of(response)
    assert frames[0] == 'event: message_start\ndata: {"type":"message_start"}\n\n'
    assert (
        frames[1]
        == 'event: content_block_delta\ndata: {"type":"content_block_delta","text":"par"}\n\n'
    )
    assert frames[-1] == (
        "event: error\n"
        'data: {"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}\n\n'
    )
    assert not any("[DONE]" in f for f in frames), "Anthropic streams have no terminator"


async def test_a_named_stream_without_terminator_ends_with_its_finish_event():
    turn = FakeTurn(start(), TextDelta(MSG, 0, "ok"), result())
    frames = await body_of(
        await open_stream(turn, NamedEncoder(), surface="anthropic", keepalive=5)
    )
    assert frames[-1] == 'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert [d["type"] for d in data(frames)] == [
        "message_start",
        "content_block_delta",
        "message_stop",
    ]


async def test_a_turn_ending_without_a_result_is_a_cli_failure_event():
    turn = FakeTurn(start(), TextDelta(MSG, 0, "x"), END)
    frames = await body_of(await open_stream(turn, chat_encoder(), surface="openai", keepalive=5))
    error = data(frames)[-2]["error"]
    assert (error["message"], error["code"]) == (NO_RESULT, "cli_failed")


async def test_a_client_that_leaves_mid_stream_cancels_the_turn():
    turn = FakeTurn(start())
    response = await open_stream(turn, chat_encoder(), surface="openai", keepalive=5)
    stream = response.body_iterator
    assert (await anext(stream)).startswith("data: ")
    assert not turn.cancelled
    await stream.aclose()  # what starlette does when the client disconnects
    assert turn.cancelled


def test_frame_writes_event_names_from_the_payload_type_and_keeps_unicode():
    assert frame({"a": "é"}, named=False) == 'data: {"a":"é"}\n\n'
    assert frame({"type": "ping"}, named=True) == 'event: ping\ndata: {"type":"ping"}\n\n'


# The JSON answer: the same turn collected into one body.


class Asgi:
    """Calls an ASGI response and records what it sends; the client may leave on demand."""

    def __init__(self, path: str = "/v1/chat/completions") -> None:
        self.scope = {"type": "http", "method": "POST", "path": path, "headers": []}
        self.sent: list[dict[str, Any]] = []
        self.left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: Any) -> None:
        await app(self.scope, self.receive, self.send)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def test_turn_response_builds_the_collectors_body():
    turn = FakeTurn(AssistantBlock(MSG, "text", "Hello"), result())
    asgi = Asgi()
    await asgi.run(TurnResponse(turn, CompletionBuilder("chatcmpl-1", 7, "opus")))
    assert asgi.status == 200
    body = asgi.json
    assert body["object"] == "chat.completion" and body["id"] == "chatcmpl-1"
    assert body["choices"][0]["message"]["content"] == "Hello"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/v1/chat/completions",
            {
                "error": {
                    "message": "slow down",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
        ),
        (
            "/v1/messages",
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        ),
    ],
)
async def test_turn_response_answers_a_failure_in_the_paths_envelope(path, expected):
    turn = FakeTurn(RateLimited("slow down", retry_after=3))
    asgi = Asgi(path)
    await asgi.run(TurnResponse(turn, CompletionBuilder("chatcmpl-1", 7, "opus")))
    assert asgi.status == 429
    assert (b"retry-after", b"3") in asgi.sent[0]["headers"]
    assert asgi.json == expected


async def test_turn_response_without_a_result_is_a_502():
    asgi = Asgi()
    await asgi.run(TurnResponse(FakeTurn(start(), END), CompletionBuilder("c", 7, "opus")))
    assert asgi.status == 502
    assert asgi.json["error"]["message"] == NO_RESULT
    assert isinstance(CliFailed(NO_RESULT), ProxyError)


async def test_turn_response_to_a_client_that_left_cancels_the_turn_and_sends_nothing():
    turn = FakeTurn(start())  # the CLI never finishes
    asgi = Asgi()
    task = asyncio.create_task(asgi.run(TurnResponse(turn, CompletionBuilder("c", 7, "opus"))))
    await asyncio.sleep(0.02)
    asgi.left.set()
    await asyncio.wait_for(task, 1)
    assert turn.cancelled and asgi.sent == []
