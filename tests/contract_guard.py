"""Every response a test receives from a proxy is validated against openapi.yaml, always.

An autouse fixture patches `send` of httpx and httpx2 clients (sync and async; the openai SDK
uses httpx2 by default), so no test can forget the check: JSON answers are validated when they
arrive, streamed answers when they are closed (each SSE `data:` payload against the chunk or
error schema, and `[DONE]` last unless the test hung up early). At teardown it asserts that
every response from a proxy under test was validated. A proxy under test is a watched origin
(`serve()` watches its uvicorn URL) or any app called in-process (starlette's TestClient, an
httpx ASGITransport): the only ASGI app this suite ever calls in-process is the proxy.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

from tests.contract import RESPONSES_PATH, Contract, sse_events

_contract: Contract | None = None
_lock = threading.Lock()


def contract() -> Contract:
    global _contract
    if _contract is None:
        _contract = Contract()
    return _contract


class Guard:
    """Watched proxy origins, and the tally of responses seen and validated."""

    def __init__(self) -> None:
        self.origins: set[str] = set()
        self.seen = 0
        self.validated = 0
        self.errors: list[str] = []

    def watches(self, client: Any, url: Any) -> bool:
        return in_process(client) or f"{url.scheme}://{url.netloc.decode()}" in self.origins

    def validate(self, response: Any, content: bytes, complete: bool = True) -> None:
        """Validate a finished response from its bytes (raises AssertionError / openapi errors)."""
        plain = _as_httpx(response, content)
        try:
            is_sse = plain.headers.get("content-type", "").startswith("text/event-stream")
            if is_sse and not complete:
                check_partial_sse(plain.text, plain.request.url.path)
            else:
                contract().check_any(plain)
        except Exception as exc:
            with _lock:
                self.errors.append(f"{plain.request.method} {plain.request.url}: {exc}")
            raise
        finally:
            with _lock:
                self.validated += 1


GUARD = Guard()


_ASGI_TRANSPORTS = tuple(dict.fromkeys((httpx.ASGITransport, httpx2.ASGITransport)))


def in_process(client: Any) -> bool:
    """A client that calls an ASGI app in this process rather than a server over the network."""
    return isinstance(client, TestClient) or isinstance(
        getattr(client, "_transport", None), _ASGI_TRANSPORTS
    )


def watch(url: str) -> None:
    GUARD.origins.add(url.rstrip("/"))


def unwatch(url: str) -> None:
    GUARD.origins.discard(url.rstrip("/"))


def check_partial_sse(text: str, path: str | None = None) -> None:
    """A stream the client closed early: every complete event must still be valid."""
    complete = text[: text.rfind("\n\n") + 2] if "\n\n" in text else ""
    if path == RESPONSES_PATH:
        contract().check_responses_sse(complete, complete=False)
        return
    stream = contract().stream_contract(path)
    if stream is not None:
        stream.check(complete, complete=False)
        return
    for event in sse_events(complete):
        if event != "[DONE]":
            contract().check_chunk(json.loads(event))


def _as_httpx(response: Any, content: bytes) -> httpx.Response:
    """A plain httpx.Response (the contract's adapters speak httpx) with a known body."""
    request = response.request
    try:
        body = request.content
    except Exception:  # a streaming request body that was never buffered
        body = b""
    plain_request = httpx.Request(
        request.method,
        str(request.url),
        headers=list(request.headers.multi_items()),
        content=body,
    )
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(
        response.status_code, headers=headers, content=content, request=plain_request
    )


_STREAM_BASES = tuple(
    dict.fromkeys(
        (httpx.SyncByteStream, httpx.AsyncByteStream, httpx2.SyncByteStream, httpx2.AsyncByteStream)
    )
)


class _TeeStream(*_STREAM_BASES):  # type: ignore[misc]
    """Wraps a response byte stream: keeps a copy, validates when closed.

    It derives from both libraries' stream types because httpx checks the stream's class
    before iterating or closing it."""

    def __init__(self, inner: Any, done: Callable[[bytes, bool], None]) -> None:
        self.inner = inner
        self.done = done
        self.buffer = bytearray()
        self.finished = False
        self.reported = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.buffer += chunk
            yield chunk
        self.finished = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.buffer += chunk
            yield chunk
        self.finished = True

    def _report(self) -> None:
        if not self.reported:
            self.reported = True
            self.done(bytes(self.buffer), self.finished)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self._report()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self._report()


def _after_send(client: Any, response: Any, stream: bool) -> Any:
    if not GUARD.watches(client, response.request.url):
        return response
    with _lock:
        GUARD.seen += 1
    if not stream or hasattr(response, "_content"):
        GUARD.validate(response, response.content)
    else:
        response.stream = _TeeStream(
            response.stream, lambda data, complete: GUARD.validate(response, data, complete)
        )
    return response


def _patch_sync(cls: Any) -> Callable[[], None]:
    original = cls.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        return _after_send(self, response, bool(kwargs.get("stream")))

    cls.send = send
    return lambda: setattr(cls, "send", original)


def _patch_async(cls: Any) -> Callable[[], None]:
    original = cls.send

    async def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = await original(self, request, *args, **kwargs)
        return _after_send(self, response, bool(kwargs.get("stream")))

    cls.send = send
    return lambda: setattr(cls, "send", original)


@contextlib.contextmanager
def patched() -> Iterator[Guard]:
    undo = [
        _patch_sync(httpx.Client),
        _patch_async(httpx.AsyncClient),
        _patch_sync(httpx2.Client),
        _patch_async(httpx2.AsyncClient),
    ]
    try:
        yield GUARD
    finally:
        for restore in undo:
            restore()


@pytest.fixture(scope="session", autouse=True)
def _contract_patches() -> Iterator[Guard]:
    with patched() as guard:
        yield guard


@pytest.fixture(autouse=True)
def contract_guard(_contract_patches: Guard) -> Iterator[Guard]:
    """Autouse: at teardown, every response this test got from a proxy must be validated."""
    seen, validated = GUARD.seen, GUARD.validated
    yield GUARD
    received = GUARD.seen - seen
    done = GUARD.validated - validated
    assert done >= received, (
        f"{received - done} proxy response(s) were never closed, so never validated "
        "against openapi.yaml: read or close every streamed response"
    )
