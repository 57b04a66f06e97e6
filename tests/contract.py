"""Validate every HTTP response the tests see against openapi.yaml (openapi-core).

JSON bodies go through openapi-core; SSE bodies are split into events and each `data:`
payload is checked against its route's event schema: chat chunks (or the error payload),
ending with `[DONE]`; on `/v1/responses` a `ResponseStreamEvent` whose `event:` line names its
`type`, with `sequence_number` counting from 0, ending with a terminal lifecycle event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from handlers.errors import surface_for_path

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
# Routes connexion serves besides the spec's paths: the spec itself and Swagger UI.
EXTRA_ROUTES = re.compile(r"^/(openapi\.json|openapi\.yaml|ui(/.*)?)$")


class HttpxOpenAPIRequest:
    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        # openapi-core's path matcher stops at "/", but model ids may hold one.
        path = self.request.url.path
        prefix = "/v1/models/"
        if path.startswith(prefix):
            path = prefix + path[len(prefix) :].replace("/", "%2F")
        return path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes:
        return self.request.content

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "application/octet-stream")


class HttpxOpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def data(self) -> bytes:
        return self.response.content

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.multi_items()))

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "")


RESPONSES_PATH = "/v1/responses"
RESPONSES_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def named_events(text: str) -> list[tuple[str | None, str]]:
    """(`event:` name, `data:` payload) of each SSE event that has data."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        data = [line[5:].lstrip() for line in lines if line.startswith("data:")]
        names = [line[6:].strip() for line in lines if line.startswith("event:")]
        if data:
            out.append((names[0] if names else None, "\n".join(data)))
    return out


def sse_events(text: str) -> list[str]:
    """The `data:` payloads of an SSE body (comments such as keep-alives skipped)."""
    out = []
    for block in text.split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if data:
            out.append("\n".join(data))
    return out


def sse_named_events(text: str) -> list[tuple[str | None, str]]:
    """(`event:` name or None, `data:` payload) of every event of an SSE body."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        data = [line[5:].lstrip() for line in lines if line.startswith("data:")]
        names = [line[6:].strip() for line in lines if line.startswith("event:")]
        if data:
            out.append((names[-1] if names else None, "\n".join(data)))
    return out


@dataclass(frozen=True)
class SseContract:
    """An operation whose SSE payloads have a schema of their own (`x-sse-payload`): each
    is named by `event:` after its `type`, and the stream ends with one of `final`."""

    validator: OAS30Validator
    final: tuple[str, ...]

    def check_payload(self, payload: dict[str, Any], name: str | None = None) -> None:
        self.validator.validate(payload)
        if name is not None:
            assert name == payload.get("type"), f"event: {name} carries a {payload.get('type')}"

    def check(self, text: str, *, complete: bool = True) -> list[dict[str, Any]]:
        events = sse_named_events(text)
        assert events or not complete, "empty event stream"
        payloads = []
        for name, data in events:
            assert data != "[DONE]", "this stream has no [DONE] terminator"
            payload = json.loads(data)
            self.check_payload(payload, name)
            payloads.append(payload)
        if complete and self.final:
            last = payloads[-1].get("type")
            assert last in self.final, f"stream ended with {last!r}, not one of {self.final}"
        return payloads


class Contract:
    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        raw = yaml.safe_load(spec_path.read_text())
        # The spec names the default port; tests serve on free ports of 127.0.0.1.
        self.openapi = OpenAPI.from_dict({**raw, "servers": [{"url": "/"}]})
        schemas = raw["components"]["schemas"]
        self._chunk = OAS30Validator(
            {**schemas["CreateChatCompletionStreamResponse"], "components": raw["components"]}
        )
        self._error = OAS30Validator({**schemas["ErrorResponse"], "components": raw["components"]})
        self._response_event = OAS30Validator(
            {**schemas["ResponseStreamEvent"], "components": raw["components"]}
        )
        self._completion = OAS30Validator(
            {**schemas["CreateChatCompletionResponse"], "components": raw["components"]}
        )
        self._errors = {
            "openai": self._error,
            "anthropic": OAS30Validator(
                {**schemas["AnthropicErrorResponse"], "components": raw["components"]}
            ),
        }
        self.streams: dict[re.Pattern[str], SseContract] = {}
        for path, item in raw["paths"].items():
            for operation in item.values():
                name = operation.get("x-sse-payload") if isinstance(operation, dict) else None
                if name:
                    schema = {**schemas[name], "components": raw["components"]}
                    final = tuple(operation.get("x-sse-final-types") or ())
                    self.streams[re.compile(f"^{path}$")] = SseContract(
                        OAS30Validator(schema), final
                    )
        self.routes = {
            re.compile("^" + re.sub(r"\{[^}]+\}", ".+", path) + "$"): set(item)
            for path, item in raw["paths"].items()
        }
        self.checked = 0

    def check_chunk(self, payload: dict[str, Any], path: str = "") -> None:
        if path == RESPONSES_PATH:
            self._response_event.validate(payload)
        elif "error" in payload:
            self._error.validate(payload)
        else:
            self._chunk.validate(payload)

    def check_completion(self, payload: dict[str, Any]) -> None:
        """A `chat.completion` body built without HTTP (unit tests of the builders)."""
        self._completion.validate(payload)

    def stream_contract(self, path: str | None) -> SseContract | None:
        """The SSE contract of an operation with its own payload schema, else None (chat)."""
        for pattern, stream in self.streams.items():
            if path is not None and pattern.match(path):
                return stream
        return None

    def check_responses_sse(self, text: str, complete: bool = True) -> list[dict[str, Any]]:
        """A `/v1/responses` stream: each payload a ResponseStreamEvent, its `event:` line
        its type, sequence numbers 0, 1, 2, …; a whole stream ends with a terminal event."""
        events = named_events(text)
        payloads = [json.loads(data) for _, data in events]
        for i, ((name, _), payload) in enumerate(zip(events, payloads, strict=True)):
            self._response_event.validate(payload)
            assert name == payload["type"], f"event: {name} carries a {payload['type']} payload"
            assert payload["sequence_number"] == i, (
                f"sequence_number {payload['sequence_number']} at {i}"
            )
        if complete:
            assert payloads, "empty event stream"
            assert payloads[-1]["type"] in RESPONSES_TERMINAL, (
                f"stream ended with {payloads[-1]['type']}"
            )
        return payloads

    def check_sse(self, text: str, path: str | None = None) -> list[dict[str, Any]]:
        """Validate a whole SSE body; returns the decoded payloads (without [DONE])."""
        if path == RESPONSES_PATH:
            return self.check_responses_sse(text)
        stream = self.stream_contract(path)
        if stream is not None:
            return stream.check(text)
        events = sse_events(text)
        assert events, "empty event stream"
        assert events[-1] == "[DONE]", f"stream did not end with [DONE]: {events[-1]!r}"
        payloads = [json.loads(e) for e in events[:-1]]
        for payload in payloads:
            self.check_chunk(payload)
        return payloads

    def check(self, response: httpx.Response) -> None:
        """Validate one finished response (its body is read if needed)."""
        response.read()
        request = HttpxOpenAPIRequest(response.request)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            assert response.status_code == 200
            self.check_sse(response.text, response.request.url.path)
        else:
            self.openapi.validate_response(request, HttpxOpenAPIResponse(response))
        self.checked += 1

    def hook(self, response: httpx.Response) -> None:
        """httpx response event hook (sync clients)."""
        self.check_any(response)

    async def ahook(self, response: httpx.Response) -> None:
        await response.aread()
        self.check_any(response)

    def methods_for(self, path: str) -> set[str] | None:
        """The spec's methods for a URL path; None when no spec path matches it."""
        for pattern, methods in self.routes.items():
            if pattern.match(path):
                return methods
        return None

    def check_any(self, response: httpx.Response) -> None:
        """Like `check`, for any URL: outside the spec only a 4xx error envelope is acceptable
        (404 for unknown paths, 405 for a known path with another method, ...)."""
        path, method = response.request.url.path, response.request.method.lower()
        if EXTRA_ROUTES.match(path):
            return
        methods = self.methods_for(path)
        if method == "options" and "access-control-request-method" in response.request.headers:
            return  # a CORS preflight, answered by CORSMiddleware when CORS is enabled
        if method == "head" and methods is not None and "get" in methods:
            assert response.status_code < 500, f"HEAD {path}: {response.status_code}"
            return  # Starlette answers HEAD wherever it answers GET, without a body
        if methods is not None and method in methods:
            self.check(response)
            return
        response.read()
        # 404 (unknown path) or 405 (other method) - or whatever a guard in front of routing
        # answers first (401 without the API key, 400 bad Host, 413 ...): always a 4xx.
        assert 400 <= response.status_code < 500, (
            f"{method.upper()} {path} is not in openapi.yaml: expected a 4xx error, "
            f"got {response.status_code}"
        )
        assert response.headers.get("content-type", "").startswith("application/json")
        # The envelope of the surface the path belongs to (handlers/errors.py picks it so).
        self._errors[surface_for_path(path)].validate(response.json())
        self.checked += 1
