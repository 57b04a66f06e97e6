"""Structured output with the replay CLI: the schema arrives in the `initialize` control request
on stdin and a successful result carries the simplest object it allows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel

from cli_bridge.replay.structured import control_response, simplest, structured_output
from tests.conftest import RunningProxy
from tests.contract import Contract


class Inner(BaseModel):
    tags: list[str]
    score: float


class Outer(BaseModel):
    name: str
    inner: Inner
    flag: bool | None


@pytest.fixture
def replay_client(replay_proxy: RunningProxy, contract: Contract) -> Iterator[openai.OpenAI]:
    with httpx.Client(timeout=60, event_hooks={"response": [contract.hook]}) as http:
        yield openai.OpenAI(
            base_url=replay_proxy.v1, api_key="sk-x", max_retries=0, http_client=http
        )


def test_simplest_instances():
    schema = Outer.model_json_schema()  # nested model through a local $ref
    assert structured_output(schema) == {
        "name": "",
        "inner": {"tags": [], "score": 0},
        "flag": False,
    }
    assert simplest({"type": "string", "minLength": 3}, {}) == "xxx"
    assert simplest({"enum": ["b", "a"]}, {}) == "b"
    assert structured_output({"type": "array"}) is None


def test_replay_needs_only_the_standard_library():
    source = (Path(__file__).parents[2] / "cli_bridge/replay/structured.py").read_text()
    imported = re.findall(r"^(?:from|import) (\S+)", source, re.MULTILINE)
    assert set(imported) <= {"__future__", "copy", "json", "..protocol.wire", ".transcripts"}


def test_a_wrong_guess_is_refused_by_the_proxy(replay_client: openai.OpenAI):
    with pytest.raises(openai.APIStatusError) as caught:
        replay_client.chat.completions.create(
            model="opus",
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": {"type": "object", "minProperties": 2}},
            },
        )
    assert caught.value.status_code == 502


def test_control_response():
    ok = control_response(
        {"type": "control_request", "request_id": "r", "request": {"subtype": "initialize"}}
    )
    assert ok == {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": "r", "response": {}},
    }
    assert control_response({"type": "user"}) is None


def test_parse_through_replay(replay_client: openai.OpenAI):
    completion = replay_client.chat.completions.parse(
        model="opus", messages=[{"role": "user", "content": "hi"}], response_format=Outer
    )
    assert completion.choices[0].message.parsed == Outer(
        name="", inner=Inner(tags=[], score=0), flag=False
    )


def test_json_object_stream_through_replay(replay_client: openai.OpenAI):
    stream = replay_client.chat.completions.create(
        model="opus",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert json.loads(text) == {}
