"""openapi.yaml's response schemas are as strict as OpenAI's official spec for every field we emit.

The contract guard validates every response against openapi.yaml, so a schema looser than
OpenAI's lets an invalid answer through (`system_fingerprint: null` did: OpenAI types it as a
string, never null). Good bodies come from the real builders; each bad one differs from a good
one by one value the official spec forbids, and must be rejected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder
from cli_bridge.protocol.events import MessageStart, Result, TextDelta
from tests.contract import SPEC_PATH

RAW = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
USAGE = {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 2}


def validator(name: str) -> OAS30Validator:
    return OAS30Validator({**RAW["components"]["schemas"][name], "components": RAW["components"]})


def result() -> Result:
    return Result(
        subtype="success",
        is_error=False,
        text="Hi",
        usage=USAGE,
        stop_reason="end_turn",
        terminal_reason="completed",
        api_error_status=None,
        errors=[],
        session_id="s",
    )


def completion() -> dict[str, Any]:
    builder = CompletionBuilder("chatcmpl-x", 1, "opus")
    return builder.build(result())


def chunks(include_usage: bool) -> list[dict[str, Any]]:
    builder = ChunkBuilder("chatcmpl-x", 1, "opus", include_usage=include_usage)
    out = [builder.first()]
    out += builder.feed(MessageStart("m1", "opus"))
    out += builder.feed(TextDelta("m1", 0, "Hi"))
    return out + builder.finish(result())


def test_real_bodies_are_valid():
    validator("CreateChatCompletionResponse").validate(completion())
    for include_usage in (False, True):
        for chunk in chunks(include_usage):
            validator("CreateChatCompletionStreamResponse").validate(chunk)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set `value` at a dotted path (numbers index lists)."""

    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return apply


BAD_COMPLETIONS = {
    "system_fingerprint null": _set("system_fingerprint", None),
    "service_tier outside the enum": _set("service_tier", "standard"),
    "finish_reason null": _set("choices.0.finish_reason", None),
    "finish_reason outside the enum": _set("choices.0.finish_reason", "end_turn"),
    "logprobs missing": _drop("choices.0.logprobs"),
    "logprobs without content/refusal": _set("choices.0.logprobs", {}),
    "refusal missing": _drop("choices.0.message.refusal"),
    "content missing": _drop("choices.0.message.content"),
    "role not assistant": _set("choices.0.message.role", "user"),
    "annotation without url_citation": _set(
        "choices.0.message.annotations", [{"type": "url_citation"}]
    ),
    "annotations null": _set("choices.0.message.annotations", None),
    "usage null": _set("usage", None),
    "usage without total_tokens": _drop("usage.total_tokens"),
    "cached_tokens null": _set("usage.prompt_tokens_details.cached_tokens", None),
    "object wrong": _set("object", "chat.completion.chunk"),
    "created missing": _drop("created"),
}


@pytest.mark.parametrize("mutate", BAD_COMPLETIONS.values(), ids=BAD_COMPLETIONS.keys())
def test_completion_schema_rejects(mutate: Callable[[dict[str, Any]], None]):
    body = copy.deepcopy(completion())
    mutate(body)
    with pytest.raises(ValidationError):
        validator("CreateChatCompletionResponse").validate(body)


BAD_CHUNKS = {
    "system_fingerprint null": (0, _set("system_fingerprint", None)),
    "service_tier outside the enum": (0, _set("service_tier", "standard")),
    "finish_reason missing": (0, _drop("choices.0.finish_reason")),
    "finish_reason outside the enum": (-2, _set("choices.0.finish_reason", "end_turn")),
    "delta role outside the enum": (0, _set("choices.0.delta.role", "model")),
    "logprobs without content/refusal": (1, _set("choices.0.logprobs", {})),
    "usage chunk without completion_tokens": (-1, _drop("usage.completion_tokens")),
    "choices null on the usage chunk": (-1, _set("choices", None)),
    "obfuscation null": (0, _set("obfuscation", None)),
}


@pytest.mark.parametrize("where,mutate", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_chunk_schema_rejects(where: int, mutate: Callable[[dict[str, Any]], None]):
    chunk = copy.deepcopy(chunks(include_usage=True)[where])
    mutate(chunk)
    with pytest.raises(ValidationError):
        validator("CreateChatCompletionStreamResponse").validate(chunk)


def test_chunk_usage_may_be_null_or_absent():
    """The official spec: `usage` is absent without include_usage, null until the last chunk."""
    first = chunks(include_usage=True)[0]
    assert first["usage"] is None
    validator("CreateChatCompletionStreamResponse").validate(first)
    assert "usage" not in chunks(include_usage=False)[0]


BAD_ERRORS = {
    "param missing": _drop("error.param"),
    "code missing": _drop("error.code"),
    "message null": _set("error.message", None),
    "type null": _set("error.type", None),
}


@pytest.mark.parametrize("mutate", BAD_ERRORS.values(), ids=BAD_ERRORS.keys())
def test_error_schema_rejects(mutate: Callable[[dict[str, Any]], None]):
    good = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}}
    validator("ErrorResponse").validate(good)
    body = copy.deepcopy(good)
    mutate(body)
    with pytest.raises(ValidationError):
        validator("ErrorResponse").validate(body)


BAD_MODELS = {
    "owned_by missing": _drop("data.0.owned_by"),
    "created missing": _drop("data.0.created"),
    "object not model": _set("data.0.object", "list"),
    "list object wrong": _set("object", "models"),
}


@pytest.mark.parametrize("mutate", BAD_MODELS.values(), ids=BAD_MODELS.keys())
def test_models_schema_rejects(mutate: Callable[[dict[str, Any]], None]):
    good = {
        "object": "list",
        "data": [{"id": "opus", "object": "model", "created": 1, "owned_by": "anthropic"}],
    }
    validator("ListModelsResponse").validate(good)
    body = copy.deepcopy(good)
    mutate(body)
    with pytest.raises(ValidationError):
        validator("ListModelsResponse").validate(body)
