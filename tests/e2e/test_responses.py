"""OpenAI Responses end to end: the openai Python SDK's `responses.create` / `.stream`
through the proxy and the real CLI against the fake upstream; a function-call round trip
(the model's tool_use answered by the client's function_call_output, same ids upstream);
previous_response_id (a second request with only its new input); max_output_tokens ending
incomplete; errors; the store surviving a restart and a `kill -9` of a proxy process; the
openai Node SDK's Responses client (text, stream, a function-call round trip, an error)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.responses import ResponseIncompleteEvent

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.node_sdk import ensure_openai_node
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, free_port, serve, upstream_requests
from tests.contract import Contract
from tests.contract_guard import unwatch, watch

REPO = Path(__file__).resolve().parents[2]
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
WEATHER = [[{"name": "get_weather", "input": {"city": "Paris"}}]]


@pytest.fixture(scope="module")
def resp_proxy(base_settings: Settings, tmp_path_factory) -> Iterator[RunningProxy]:
    data = tmp_path_factory.mktemp("resp-data")
    with serve(replace(base_settings, session_idle=30, data_dir=data)) as running:
        yield running


def sdk(url: str, contract: Contract) -> openai.OpenAI:
    http = httpx.Client(timeout=60, event_hooks={"response": [contract.hook]})
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-x", max_retries=0, http_client=http)


@pytest.fixture
def client(resp_proxy: RunningProxy, contract: Contract) -> openai.OpenAI:
    return sdk(resp_proxy.url, contract)


def texts(message: dict) -> list[str]:
    content = message["content"]
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content if b.get("type") == "text"]


def test_create_answers_text_and_is_stored(client: openai.OpenAI, upstream, marker):
    prompt = f"hi {marker} {fake_directive(reply='Hello from Responses')}"
    response = client.responses.create(model="sonnet", input=prompt, instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == "Hello from Responses"
    assert response.id.startswith("resp_") and response.usage.output_tokens > 0
    sent = upstream_requests(upstream, marker)[-1]["body"]
    assert "Be brief." in json.dumps(sent["messages"][0])  # instructions open the first turn
    again = client.responses.retrieve(response.id)
    assert again.output_text == "Hello from Responses" and again.id == response.id
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_stream_sends_the_event_sequence(client: openai.OpenAI, marker):
    prompt = f"stream {marker} {fake_directive(reply='streamed words here')}"
    with client.responses.stream(model="sonnet", input=prompt) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "streamed words here"
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert client.responses.retrieve(final.id).output_text == "streamed words here"


def test_store_false_is_not_kept(client: openai.OpenAI, marker):
    response = client.responses.create(model="sonnet", input=f"x {marker}", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_previous_response_id_sends_the_conversation_as_turns(
    client: openai.OpenAI, upstream: FakeAnthropic, marker
):
    first = client.responses.create(
        model="sonnet", input=f"first {marker} {fake_directive(reply='one')}"
    )
    second = client.responses.create(
        model="sonnet", input="second question", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id and second.status == "completed"
    messages = upstream_requests(upstream, marker)[-1]["body"]["messages"]
    # (CLI 2.1.332 puts a `system` entry of its own into the messages)
    flat = [(m["role"], " ".join(texts(m))) for m in messages if m["role"] != "system"]
    assert [r for r, _ in flat][-3:] == ["user", "assistant", "user"]
    assert marker in flat[-3][1] and flat[-2][1] == "one" and "second question" in flat[-1][1]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_function_call_round_trip(
    client: openai.OpenAI, resp_proxy: RunningProxy, upstream: FakeAnthropic, marker, stream
):
    hits = httpx.get(f"{resp_proxy.url}/health").json()["tools"]["waiting"]["hits"]
    prompt = f"weather? {marker} {fake_directive(tool_plan=WEATHER)}"
    if stream:
        with client.responses.stream(model="sonnet", input=prompt, tools=TOOLS) as events:
            kinds = [e.type for e in events]
            first = events.get_final_response()
        assert "response.function_call_arguments.delta" in kinds
        assert "response.function_call_arguments.done" in kinds
    else:
        first = client.responses.create(model="sonnet", input=prompt, tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    call = calls[0]
    assert call.id.startswith("fc_") and call.call_id
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny 21C"}
    final = client.responses.create(
        model="sonnet", input=[result], previous_response_id=first.id, tools=TOOLS
    )
    assert final.output_text == "final: sunny 21C"
    # The follow-up went on in the process that made the call (the waiting process).
    assert httpx.get(f"{resp_proxy.url}/health").json()["tools"]["waiting"]["hits"] == hits + 1
    last = upstream_requests(upstream, marker)[-1]["body"]["messages"]
    uses = [
        b
        for m in last
        if m["role"] == "assistant"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]
    results = [
        b
        for m in last
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert [(u["id"], u["name"]) for u in uses] == [(call.call_id, "mcp__client__get_weather")]
    assert [r["tool_use_id"] for r in results] == [call.call_id]


def test_a_stateless_round_trip_sends_the_items_back(client: openai.OpenAI, marker):
    prompt = f"weather? {marker} {fake_directive(tool_plan=WEATHER)}"
    first = client.responses.create(model="sonnet", input=prompt, tools=TOOLS, store=False)
    call = next(item for item in first.output if item.type == "function_call")
    items = [
        {"role": "user", "content": prompt},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "cloudy"},
    ]
    final = client.responses.create(model="sonnet", input=items, tools=TOOLS, store=False)
    assert final.output_text == "final: cloudy"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_max_output_tokens_ends_incomplete(
    client: openai.OpenAI, upstream: FakeAnthropic, marker, stream
):
    directive = fake_directive(reply=f"cut short {marker}", stop_reason="max_tokens")
    prompt = f"{marker} {directive}"
    if stream:
        # (the SDK's get_final_response() wants a response.completed: the Response is read
        # from the response.incomplete event, as OpenAI ends such a stream)
        with client.responses.stream(model="sonnet", input=prompt, max_output_tokens=37) as events:
            seen = list(events)
        kinds = [e.type for e in seen]
        assert kinds[-1] == "response.incomplete" and "response.completed" not in kinds
        last = seen[-1]
        assert isinstance(last, ResponseIncompleteEvent)
        response = last.response
    else:
        response = client.responses.create(model="sonnet", input=prompt, max_output_tokens=37)
    assert response.status == "incomplete" and response.max_output_tokens == 37
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text.startswith(f"cut short {marker}")
    assert [item.status for item in response.output] == ["incomplete"]
    sent = upstream_requests(upstream, marker)
    assert sent and all(r["body"]["max_tokens"] == 37 for r in sent)
    assert client.responses.retrieve(response.id).status == "incomplete"


def test_errors_use_openais_envelope(client: openai.OpenAI, marker):
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.responses.create(model="gpt-9-nope", input=f"x {marker}")
    assert unknown_model.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as unknown_previous:
        client.responses.create(model="sonnet", input="x", previous_response_id="resp_nope")
    assert unknown_previous.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as bad_item:
        client.responses.create(model="sonnet", input=[{"type": "reasoning", "summary": []}])
    assert bad_item.value.body["param"] == "input.0.type"


# -- a proxy process: restart and kill -9 --------------------------------------------------


@contextlib.contextmanager
def proxy_process(base: Settings, data: Path, work: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    env = {**os.environ, **base.cli_env, "PYTHONPATH": str(REPO), "TMPDIR": str(work)}
    argv = [
        sys.executable,
        "-m",
        "handlers.main",
        "--port",
        str(port),
        "--claude-bin",
        base.claude_bin,
        "--data-dir",
        str(data),
        "--pool-size",
        "0",
        "--session-idle",
        "0",
    ]
    popen = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        assert popen.poll() is None and time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.1)
    watch(url)
    try:
        yield url, popen
    finally:
        unwatch(url)
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(10)


def test_the_store_survives_a_restart_and_kill_9(
    base_settings: Settings, contract: Contract, upstream: FakeAnthropic, tmp_path, marker
):
    data = tmp_path / "data"
    with proxy_process(base_settings, data, tmp_path) as (url, _):
        first = sdk(url, contract).responses.create(
            model="sonnet", input=f"remember {marker} {fake_directive(reply='noted')}"
        )
    with proxy_process(base_settings, data, tmp_path) as (url, popen):  # a clean restart
        client = sdk(url, contract)
        assert client.responses.retrieve(first.id).output_text == "noted"
        second = client.responses.create(
            model="sonnet", input="and then?", previous_response_id=first.id
        )
        popen.send_signal(signal.SIGKILL)  # no shutdown at all
        popen.wait(10)
    with proxy_process(base_settings, data, tmp_path) as (url, _):
        client = sdk(url, contract)
        assert client.responses.retrieve(second.id).previous_response_id == first.id
        third = client.responses.create(
            model="sonnet", input="last one", previous_response_id=second.id
        )
        assert third.status == "completed"
    messages = upstream_requests(upstream, marker)[-1]["body"]["messages"]
    roles = [m["role"] for m in messages if m["role"] != "system"]
    assert roles[-5:] == ["user", "assistant", "user", "assistant", "user"]


# -- the openai Node SDK's Responses client -------------------------------------------------

NODE_SCRIPT = REPO / "conformance" / "openai_node_responses.mjs"


def test_the_node_sdk_responses_client(
    resp_proxy: RunningProxy, contract: Contract, upstream: FakeAnthropic, marker
):
    if shutil.which("node") is None:
        pytest.fail("node is needed for the openai Node SDK test")
    target = ensure_openai_node() / NODE_SCRIPT.name  # `openai` resolves from the script's folder
    shutil.copyfile(NODE_SCRIPT, target)
    env = {**os.environ, "OPENAI_BASE_URL": resp_proxy.v1}
    env.pop("OPENAI_API_KEY", None)
    prompt = f"node {marker} {fake_directive(reply='Hello from Node')}"
    tool_prompt = f"node weather? {marker} {fake_directive(tool_plan=WEATHER)}"
    proc = subprocess.run(
        ["node", str(target), prompt, tool_prompt],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out = {item["kind"]: item["value"] for item in map(json.loads, proc.stdout.splitlines())}
    created, streamed = out["created"], out["stream"]
    for response in (created["response"], streamed["response"], out["retrieved"]):
        contract._response_event.validate(
            {"type": "response.completed", "sequence_number": 0, "response": response}
        )
    assert created["output_text"] == "Hello from Node"
    assert streamed["kinds"][0] == "response.created" and streamed["kinds"][-1] == (
        "response.completed"
    )
    assert "response.output_text.delta" in streamed["kinds"]
    assert streamed["response"]["previous_response_id"] == created["response"]["id"]
    assert out["retrieved"]["id"] == streamed["response"]["id"]
    error = out["error"]
    assert error["status"] == 404 and error["isNotFound"] is True
    assert error["error"]["code"] == "model_not_found"
    chained = [
        r["body"]["messages"]
        for r in upstream_requests(upstream, marker)
        if "and then?" in json.dumps(r["body"]["messages"])
    ]
    roles = [m["role"] for m in chained[-1]]
    assert [r for r in roles if r != "system"][-3:] == ["user", "assistant", "user"]
    # The function-call round trips, not streamed (previous_response_id) and streamed (the
    # whole item list): the model's call, the client's output, the answer naming it.
    for kind, result in (("tool_json", "sunny 21C"), ("tool_stream", "cloudy 12C")):
        trip = out[kind]
        for response in (trip["first"], trip["final"]):
            contract._response_event.validate(
                {"type": "response.completed", "sequence_number": 0, "response": response}
            )
        [call] = trip["calls"]
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
        assert call["id"].startswith("fc_") and call["call_id"]
        assert trip["final"]["status"] == "completed"
        assert trip["output_text"] == f"final: {result}"
    streamed = out["tool_stream"]
    assert "response.function_call_arguments.done" in streamed["callKinds"]
    assert streamed["callKinds"][-1] == "response.completed"
    assert "response.output_text.delta" in streamed["resultKinds"]
    assert streamed["first"]["store"] is False
