"""A schemathesis check for streamed chat completions: what schemathesis cannot see itself.

schemathesis validates each server-sent event *object* against the spec's `SSEEvent` schema,
but not the JSON inside `data:` (OpenAPI 3.0 has no way to say it). This check does: every
payload must be a `CreateChatCompletionStreamResponse` chunk or a `StreamErrorPayload`, all
chunks share `id`, `created` and `model`, an error payload is the last one, and a stream that
was read to its end ends with `[DONE]`.

The schemas come from the spec schemathesis loaded, so the module needs no checkout. Use it
from pytest (`additional_checks=[sse_payloads_conform]`) or the CLI:

    SCHEMATHESIS_HOOKS=conformance.schemathesis_checks schemathesis run ... \\
        --checks all,sse_payloads_conform
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import schemathesis
from openapi_schema_validator import OAS30Validator

CHUNK_SCHEMA = "CreateChatCompletionStreamResponse"
ERROR_SCHEMA = "StreamErrorPayload"
RESPONSES_PATH = "/v1/responses"
RESPONSES_EVENT = "ResponseStreamEvent"
RESPONSES_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def data_payloads(text: str) -> list[str]:
    """The `data:` values of an SSE body, one per event (comments and blank events skipped)."""
    out = []
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in block.split("\n") if line[:5] == "data:"]
        if lines:
            out.append("\n".join(lines))
    return out


@cache
def _validators(spec_json: str) -> tuple[OAS30Validator, OAS30Validator]:
    spec = json.loads(spec_json)
    components = spec["components"]
    chunk = OAS30Validator({**components["schemas"][CHUNK_SCHEMA], "components": components})
    error = OAS30Validator({**components["schemas"][ERROR_SCHEMA], "components": components})
    return chunk, error


def check_stream(text: str, spec: dict[str, Any], *, complete: bool = True) -> list[dict[str, Any]]:
    """Validate one SSE body; returns the decoded payloads. Raises AssertionError."""
    chunk_validator, error_validator = _validators(json.dumps(spec, sort_keys=True))
    events = data_payloads(text)
    if complete:
        assert events, "the event stream carried no data events"
        assert events[-1] == "[DONE]", f"the stream did not end with [DONE]: {events[-1]!r}"
    assert "[DONE]" not in events[:-1], "[DONE] must be the last event"
    payloads = []
    for raw in (e for e in events if e != "[DONE]"):
        try:
            payload = json.loads(raw)
        except ValueError:
            raise AssertionError(f"SSE data is not JSON: {raw[:200]!r}") from None
        assert isinstance(payload, dict), f"SSE data is not a JSON object: {raw[:200]!r}"
        name, validator = (
            (ERROR_SCHEMA, error_validator)
            if "error" in payload
            else (CHUNK_SCHEMA, chunk_validator)
        )
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            where = ".".join(map(str, errors[0].path)) or "<root>"
            raise AssertionError(f"SSE payload violates {name}: {errors[0].message} at {where}")
        payloads.append(payload)
    chunks = [p for p in payloads if "error" not in p]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) <= 1, (
        "chunks of one stream must share id, created and model"
    )
    errors_at = [i for i, p in enumerate(payloads) if "error" in p]
    assert errors_at in ([], [len(payloads) - 1]), "an error payload must be the last payload"
    return payloads


@cache
def _payload_validator(spec_json: str, name: str) -> OAS30Validator:
    components = json.loads(spec_json)["components"]
    return OAS30Validator({**components["schemas"][name], "components": components})


def check_typed_stream(
    text: str, spec: dict[str, Any], operation: dict[str, Any], *, complete: bool = True
) -> list[dict[str, Any]]:
    """An operation whose payloads have a schema of their own (`x-sse-payload`, Anthropic's
    events): each payload valid against it, no `[DONE]`, the last of `x-sse-final-types`."""
    name = operation["x-sse-payload"]
    validator = _payload_validator(json.dumps(spec, sort_keys=True), name)
    payloads = []
    for raw in data_payloads(text):
        assert raw != "[DONE]", "this stream has no [DONE] terminator"
        payload = json.loads(raw)
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            raise AssertionError(f"SSE payload violates {name}: {errors[0].message}")
        payloads.append(payload)
    final = operation.get("x-sse-final-types") or []
    if complete and final:
        assert payloads and payloads[-1].get("type") in final, "the stream ended early"
    return payloads


def _responses_validator(spec_json: str) -> OAS30Validator:
    components = json.loads(spec_json)["components"]
    return OAS30Validator({**components["schemas"][RESPONSES_EVENT], "components": components})


def check_responses_stream(
    text: str, spec: dict[str, Any], *, complete: bool = True
) -> list[dict[str, Any]]:
    """A `/v1/responses` stream: every payload a ResponseStreamEvent named by its `event:`
    line, `sequence_number` 0, 1, 2, …, and (read to its end) a terminal lifecycle event last."""
    validator = _responses_validator(json.dumps(spec, sort_keys=True))
    payloads = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.split("\n")
        data = [line[5:].removeprefix(" ") for line in lines if line[:5] == "data:"]
        if not data:
            continue
        names = [line[6:].strip() for line in lines if line[:6] == "event:"]
        payload = json.loads("\n".join(data))
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            where = ".".join(map(str, errors[0].path)) or "<root>"
            raise AssertionError(
                f"SSE payload violates {RESPONSES_EVENT}: {errors[0].message} at {where}"
            )
        assert names == [payload["type"]], f"event: {names} carries a {payload['type']} payload"
        assert payload["sequence_number"] == len(payloads), "sequence_number out of order"
        payloads.append(payload)
    if complete:
        assert payloads and payloads[-1]["type"] in RESPONSES_TERMINAL, "no terminal event"
    return payloads


@schemathesis.check
def sse_payloads_conform(ctx: Any, response: Any, case: Any) -> bool | None:
    """Each `data:` payload of a text/event-stream answer against the chunk or error schema."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("text/event-stream"):
        return None
    text = (response.content or b"").decode("utf-8", "replace")
    spec = case.operation.schema.raw_schema
    complete = not getattr(response, "stream_cut_short", False)
    operation = spec["paths"][case.operation.path][case.operation.method.lower()]
    if case.operation.path == RESPONSES_PATH:
        check_responses_stream(text, spec, complete=complete)
    elif "x-sse-payload" in operation:
        check_typed_stream(text, spec, operation, complete=complete)
    else:
        check_stream(text, spec, complete=complete)
    return True
