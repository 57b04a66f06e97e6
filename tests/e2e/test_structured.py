"""Structured output end to end: `response_format` -> the CLI's StructuredOutput tool -> a
checked JSON object, with the openai SDK's `.parse()` / `.stream()` and a Pydantic model."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx
import openai
import pytest
from pydantic import BaseModel

from cli_bridge.engine.pool import PoolStats
from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.fake_replies import last_user_text
from handlers.config.settings import Settings
from tests.conftest import serve, upstream_requests
from tests.contract import Contract


class Person(BaseModel):
    name: str
    age: int


ADA = {"name": "Ada", "age": 36}


def offered_schema(upstream: FakeAnthropic, marker: str) -> dict:
    """The input schema of the StructuredOutput tool in the first upstream request."""
    tools = upstream_requests(upstream, marker)[0]["body"]["tools"]
    found = [t for t in tools if t["name"] == "StructuredOutput"]
    assert len(found) == 1, [t["name"] for t in tools]
    return found[0]["input_schema"]


def first_asks(upstream: FakeAnthropic, marker: str) -> int:
    """Upstream requests that opened a turn (the user's message last, not the CLI's nudge)."""
    sent = upstream_requests(upstream, marker)
    return sum(marker in last_user_text(r["body"]["messages"]) for r in sent)


def test_parse_pydantic(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    completion = openai_client.chat.completions.parse(
        model="sonnet",
        messages=[{"role": "user", "content": f"who {marker} {fake_directive(structured=ADA)}"}],
        response_format=Person,
    )
    message = completion.choices[0].message
    assert message.parsed == Person(**ADA)
    assert json.loads(message.content or "") == ADA
    assert completion.choices[0].finish_reason == "stop"
    schema = offered_schema(upstream, marker)
    assert schema["properties"].keys() == {"name", "age"}
    assert schema["additionalProperties"] is False  # the SDK's strict schema, as sent


def test_stream_pydantic(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    directive = fake_directive(structured=ADA, reply="thinking out loud first")
    with openai_client.chat.completions.stream(
        model="sonnet",
        messages=[{"role": "user", "content": f"who {marker} {directive}"}],
        response_format=Person,
    ) as stream:
        contents = [
            e.delta for e in stream if e.type == "content.delta" and e.delta
        ]  # the model's own text never shows: the object arrives whole
        final = stream.get_final_completion()
    assert [json.loads(c) for c in contents] == [ADA]
    assert final.choices[0].message.parsed == Person(**ADA)
    assert final.choices[0].finish_reason == "stop"


def test_json_object(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    answer = {"anything": [1, 2, {"deep": None}], "ok": True}
    content = f"json {marker} {fake_directive(structured=answer)}"
    completion = openai_client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": content}],
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content or "") == answer
    assert offered_schema(upstream, marker) == {"type": "object"}


def test_one_retry_recovers(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    directive = fake_directive(structured=ADA, structured_bad=1, id=marker)
    completion = openai_client.chat.completions.parse(
        model="sonnet",
        messages=[{"role": "user", "content": f"who {marker} {directive}"}],
        response_format=Person,
    )
    assert completion.choices[0].message.parsed == Person(**ADA)
    assert first_asks(upstream, marker) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_invalid_output_is_an_error(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, stream: bool
):
    directive = fake_directive(structured=ADA, structured_bad=9, id=marker)
    messages = [{"role": "user", "content": f"who {marker} {directive}"}]
    with pytest.raises(openai.APIError) as caught:
        if stream:
            with openai_client.chat.completions.stream(
                model="sonnet", messages=messages, response_format=Person
            ) as events:
                for event in events:
                    if event.type == "content.delta":
                        assert not event.delta, "no content before the error"
        else:
            openai_client.chat.completions.parse(
                model="sonnet", messages=messages, response_format=Person
            )
    assert "structured output" in caught.value.message
    if not stream:
        assert isinstance(caught.value, openai.APIStatusError)
        assert caught.value.status_code == 502
    assert caught.value.code == "invalid_structured_output"
    assert first_asks(upstream, marker) == 2  # the turn and one retry


def test_output_against_schema_checked(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    """The CLI refuses a call that breaks the schema; no valid call follows: an error."""
    directive = fake_directive(structured={"name": 5, "age": "x"})
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.parse(
            model="sonnet",
            messages=[{"role": "user", "content": f"who {marker} {directive}"}],
            response_format=Person,
        )
    assert caught.value.status_code == 502


def test_unusable_schema_is_400(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    before = len(upstream.requests)
    for schema in ({"type": "array"}, {"type": "object", "properties": {"a": {"type": 5}}}):
        with pytest.raises(openai.BadRequestError) as caught:
            openai_client.chat.completions.create(
                model="sonnet",
                messages=[{"role": "user", "content": marker}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": schema, "strict": True},
                },
            )
        assert caught.value.param == "response_format"
    assert len(upstream.requests) == before


def test_structured_turn_is_not_parked(base_settings: Settings, contract: Contract, marker: str):
    """Its process holds a schema the next request may not want: it is not kept (a plain turn
    is, in the same proxy)."""
    hook = {"response": [contract.hook]}
    with (
        serve(replace(base_settings, session_idle=30)) as running,
        httpx.Client(timeout=60, event_hooks=hook) as http,
    ):
        client = openai.OpenAI(base_url=running.v1, api_key="sk-x", max_retries=0, http_client=http)
        sessions = running.state.bridge.sessions
        content = f"who {marker} {fake_directive(structured=ADA)}"
        client.chat.completions.parse(
            model="sonnet", messages=[{"role": "user", "content": content}], response_format=Person
        )
        assert sessions.stats()["parked_total"] == 0
        client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": f"plain {marker}"}]
        )
        assert sessions.stats()["parked_total"] == 1


def test_stop_never_cuts_the_object(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    """`stop` applies to text; the structured answer is the whole object (here its prose and
    its JSON both hold the stop sequence)."""
    directive = fake_directive(structured=ADA, reply="prose about Ada")
    completion = openai_client.chat.completions.parse(
        model="sonnet",
        messages=[{"role": "user", "content": f"who {marker} {directive}"}],
        response_format=Person,
        stop=["Ada"],
        max_completion_tokens=500,
    )
    assert completion.choices[0].message.parsed == Person(**ADA)
    assert completion.choices[0].finish_reason == "stop"
    assert upstream_requests(upstream, marker)[0]["body"]["max_tokens"] == 500


def schema_warm(stats: PoolStats) -> bool:
    return any("+schema:" in label and n for label, n in stats["warm_by_key"].items())


def test_warm_pool_keys_processes_by_schema(
    base_settings: Settings, upstream: FakeAnthropic, contract: Contract, marker: str
):
    """A warm process without the schema never serves a structured request; the pool learns
    the schema's key from traffic, and its warm process (schema sent at spawn) then does."""
    hook = {"response": [contract.hook]}
    with (
        serve(replace(base_settings, pool_size=1)) as running,
        httpx.Client(timeout=60, event_hooks=hook) as http,
    ):
        client = openai.OpenAI(base_url=running.v1, api_key="sk-x", max_retries=0, http_client=http)
        pool = running.state.bridge.pool
        deadline = time.monotonic() + 20
        while not pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.pids(), "the seed key's warm process"
        served_warm = []
        for i in range(4):
            hits = pool.hits
            content = f"who {marker} {i} {fake_directive(structured=ADA)}"
            completion = client.chat.completions.parse(
                model="sonnet",
                messages=[{"role": "user", "content": content}],
                response_format=Person,
            )
            assert completion.choices[0].message.parsed == Person(**ADA)
            served_warm.append(pool.hits > hits)
            if i < 3:  # let the pool warm a process for the key it has now seen
                deadline = time.monotonic() + 20
                while not schema_warm(pool.stats()) and time.monotonic() < deadline:
                    time.sleep(0.05)
        assert served_warm[0] is False, "the seed's warm process has no schema"
        assert any(served_warm), "a warm process of the schema's key served"
        for sent in upstream_requests(upstream, marker):
            assert "StructuredOutput" in [t["name"] for t in sent["body"]["tools"]]
