"""The contract guard catches a non-conforming proxy whatever client a test uses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from tests.contract_guard import GUARD, unwatch, watch

CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "opus",
    "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
}
OPENAI_404 = {
    "error": {"message": "no", "type": "invalid_request_error", "param": None, "code": None}
}
ANTHROPIC_404 = {"type": "error", "error": {"type": "not_found_error", "message": "no"}}
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/v1/models": (200, "application/json", json.dumps({"object": "list", "data": "x"}).encode()),
    "/health": (200, "application/json", b'{"status": "ok"}'),
    # Outside the spec: the envelope must be the one of the path's surface.
    "/v1/messages/x": (404, "application/json", json.dumps(OPENAI_404).encode()),
    "/v1/nothing": (404, "application/json", json.dumps(ANTHROPIC_404).encode()),
    "/v1/messages/y": (404, "application/json", json.dumps(ANTHROPIC_404).encode()),
    "/sse/no-done": (200, "text/event-stream", f"data: {json.dumps(CHUNK)}\n\n".encode()),
    "/sse/bad-chunk": (200, "text/event-stream", b'data: {"object": 1}\n\ndata: [DONE]\n\n'),
    "/sse/good": (
        200,
        "text/event-stream",
        f"data: {json.dumps(CHUNK)}\n\ndata: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode(),
    ),
}


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/chat/completions":
            path = "/sse/" + self.headers.get("x-variant", "good")
        status, ctype, body = ROUTES[path]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bad_proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    watch(url)
    try:
        yield url
    finally:
        unwatch(url)
        server.shutdown()
        server.server_close()


def chat(client: httpx.Client, variant: str) -> httpx.Response:
    body = {"model": "opus", "messages": [{"role": "user", "content": "x"}], "stream": True}
    return client.post("/v1/chat/completions", json=body, headers={"x-variant": variant})


def test_non_conforming_json_is_caught_for_plain_httpx(bad_proxy: str):
    with pytest.raises(Exception, match="data"):
        httpx.get(f"{bad_proxy}/v1/models")
    with pytest.raises(Exception, match="required"):
        httpx.get(f"{bad_proxy}/health")


def test_non_conforming_json_is_caught_for_the_openai_sdk_default_client(bad_proxy: str):
    client = openai.OpenAI(base_url=f"{bad_proxy}/v1", api_key="x", max_retries=0)
    with pytest.raises(Exception, match="data"):
        client.models.list()


async def test_async_clients_are_guarded_too(bad_proxy: str):
    async with httpx.AsyncClient(base_url=bad_proxy) as client:
        with pytest.raises(Exception, match="data"):
            await client.get("/v1/models")


def test_sse_payloads_and_done_are_checked_when_the_stream_closes(bad_proxy: str):
    with httpx.Client(base_url=bad_proxy) as client:
        with pytest.raises(AssertionError, match=r"\[DONE\]"):
            chat(client, "no-done")
        with pytest.raises(Exception, match="required"):
            chat(client, "bad-chunk")
        before = GUARD.validated
        assert chat(client, "good").status_code == 200
        assert GUARD.validated == before + 1


def test_a_stream_closed_early_is_checked_without_done(bad_proxy: str):
    body = {"model": "opus", "messages": [{"role": "user", "content": "x"}], "stream": True}
    before = GUARD.validated
    with (
        httpx.Client(base_url=bad_proxy) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        next(response.iter_raw(10))  # leave early
    assert GUARD.validated == before + 1


def test_errors_outside_the_spec_must_use_their_surface_envelope(bad_proxy: str):
    with httpx.Client(base_url=bad_proxy) as client:
        with pytest.raises(Exception, match="required"):
            client.get("/v1/messages/x")  # OpenAI's envelope on Anthropic's surface
        with pytest.raises(Exception, match="required"):
            client.get("/v1/nothing")  # Anthropic's envelope on OpenAI's surface
        before = GUARD.validated
        assert client.get("/v1/messages/y").status_code == 404
        assert GUARD.validated == before + 1


def test_unwatched_servers_are_left_alone(bad_proxy: str):
    unwatch(bad_proxy)
    try:
        assert httpx.get(f"{bad_proxy}/v1/models").status_code == 200
    finally:
        watch(bad_proxy)
