"""POST /v1/messages end to end: the official `anthropic` SDK against the proxy and the real
CLI (which talks to the fake upstream): create, stream (the helper and raw events), sync and
async, a client tool round trip with the model's own ids (streamed and not), errors in
Anthropic's envelope (refusals and an upstream 429, streamed and not), count_tokens 501.
And Claude Code itself as a client: the pinned CLI with ANTHROPIC_BASE_URL at the proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from tests.conftest import RunningProxy, upstream_requests

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(tool_proxy: RunningProxy) -> Iterator[anthropic.Anthropic]:
    """The SDK's own (httpx2) client: the contract guard validates every response of a
    watched proxy, whatever client got it."""
    with anthropic.Anthropic(
        base_url=tool_proxy.url, api_key="sk-x", max_retries=0, timeout=60
    ) as sdk:
        yield sdk


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_create(client: anthropic.Anthropic, upstream: FakeAnthropic, marker: str):
    prompt = f"hi {marker} {fake_directive(reply='Hello from the fake.')}"
    message = client.messages.create(
        model="sonnet",
        max_tokens=200,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=user(prompt),
        metadata={"user_id": "u1"},
        extra_body={"temperature": 0.2, "top_k": 5, "top_p": 0.9},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == "sonnet"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Hello from the fake."
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = upstream_requests(upstream, marker)
    assert sent and "Be brief." in json.dumps(sent[0]["body"]["messages"])


def test_multi_turn_goes_as_real_turns(
    client: anthropic.Anthropic, upstream: FakeAnthropic, marker: str
):
    messages = [
        {"role": "user", "content": f"first {marker}"},
        {"role": "assistant", "content": [{"type": "text", "text": "first answer"}]},
        {"role": "user", "content": f"second {fake_directive(reply='second answer')}"},
    ]
    message = client.messages.create(model="sonnet", max_tokens=100, messages=messages)
    assert message.content[0].text == "second answer"
    turns = upstream_requests(upstream, marker)[-1]["body"]["messages"]
    texts = [json.dumps(t["content"]) for t in turns]
    assert any("first answer" in t for t in texts)


def test_stream_helper_and_raw_events(client: anthropic.Anthropic, marker: str):
    prompt = f"stream {marker} {fake_directive(reply='Streamed words here.')}"
    with client.messages.stream(model="sonnet", max_tokens=200, messages=user(prompt)) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Streamed words here."
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    events = list(
        client.messages.create(model="sonnet", max_tokens=200, messages=user(prompt), stream=True)
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == "Streamed words here."


def test_stop_sequences_and_max_tokens(client: anthropic.Anthropic, marker: str):
    prompt = f"count {marker} {fake_directive(reply='one two STOP three')}"
    message = client.messages.create(
        model="sonnet", max_tokens=200, messages=user(prompt), stop_sequences=["STOP"]
    )
    assert message.content[0].text == "one two "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "STOP"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_tool_round_trip(
    client: anthropic.Anthropic, upstream: FakeAnthropic, marker: str, stream: bool
):
    plan = [[{"name": "get_weather", "input": {"city": "Paris"}}]]
    prompt = f"weather? {marker} {fake_directive(tool_plan=plan, tool_text='Checking.')}"
    messages: list[dict] = user(prompt)
    if stream:
        with client.messages.stream(
            model="sonnet", max_tokens=300, messages=messages, tools=[WEATHER_TOOL]
        ) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(
            model="sonnet", max_tokens=300, messages=messages, tools=[WEATHER_TOOL]
        )
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("get_weather", {"city": "Paris"})]
    assert first.content[0].type == "text" and first.content[0].text == "Checking."
    call = uses[0]
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "sunny 21C in Paris"}
            ],
        },
    ]
    if stream:  # the follow-up streamed too, as a streaming client sends it
        with client.messages.stream(
            model="sonnet", max_tokens=300, messages=messages, tools=[WEATHER_TOOL]
        ) as s:
            streamed = "".join(s.text_stream)
            second = s.get_final_message()
        assert streamed == "final: sunny 21C in Paris"
    else:
        second = client.messages.create(
            model="sonnet", max_tokens=300, messages=messages, tools=[WEATHER_TOOL]
        )
    assert second.stop_reason == "end_turn"
    assert second.content[-1].text == "final: sunny 21C in Paris"
    # The model saw its own tool_use answered by a tool_result with the same id.
    last = upstream_requests(upstream, marker)[-1]["body"]["messages"]
    used = [b for m in last if isinstance(m["content"], list) for b in m["content"]]
    ids = {b["id"] for b in used if b.get("type") == "tool_use"}
    answered = {b["tool_use_id"] for b in used if b.get("type") == "tool_result"}
    assert call.id in ids and call.id in answered
    names = {b["name"] for b in used if b.get("type") == "tool_use"}
    assert names == {"mcp__client__get_weather"}


def test_forced_tool_answers_one_tool_use(client: anthropic.Anthropic, marker: str):
    directive = fake_directive(structured={"city": "Oslo"})
    message = client.messages.create(
        model="sonnet",
        max_tokens=300,
        messages=user(f"pick a city {marker} {directive}"),
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in message.content] == [
        ("tool_use", "get_weather", {"city": "Oslo"})
    ]


def test_errors_in_anthropics_envelope(client: anthropic.Anthropic):
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="gpt-9", max_tokens=10, messages=user("x"))
    assert missing.value.body["type"] == "error"
    assert missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="sonnet", max_tokens=0, messages=user("x"))
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as bad_block:
        client.messages.create(
            model="sonnet",
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}],
        )
    assert bad_block.value.body["error"]["message"].startswith("messages.0.content.0.type")


def test_errors_when_streaming(client: anthropic.Anthropic):
    """A refusal before the stream opens is the same HTTP error as without `stream`."""
    with (
        pytest.raises(anthropic.NotFoundError) as missing,
        client.messages.stream(model="gpt-9", max_tokens=10, messages=user("x")) as s,
    ):
        s.get_final_message()
    assert missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        list(client.messages.create(model="sonnet", max_tokens=0, messages=user("x"), stream=True))
    assert bad.value.body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_upstream_rate_limit_is_the_sdks_rate_limit_error(
    client: anthropic.Anthropic, marker: str, stream: bool
):
    prompt = f"busy {marker} {fake_directive(status=429)}"
    with pytest.raises(anthropic.RateLimitError) as caught:
        if stream:
            with client.messages.stream(model="sonnet", max_tokens=50, messages=user(prompt)) as s:
                s.get_final_message()
        else:
            client.messages.create(model="sonnet", max_tokens=50, messages=user(prompt))
    assert caught.value.status_code == 429
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


async def test_async_client_creates_and_streams(tool_proxy: RunningProxy, marker: str):
    prompt = f"async {marker} {fake_directive(reply='Async words.')}"
    async with anthropic.AsyncAnthropic(
        base_url=tool_proxy.url, api_key="sk-x", max_retries=0, timeout=60
    ) as sdk:
        message = await sdk.messages.create(model="sonnet", max_tokens=100, messages=user(prompt))
        assert message.content[0].text == "Async words."
        async with sdk.messages.stream(
            model="sonnet", max_tokens=100, messages=user(prompt)
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
    assert text == "Async words." and final.stop_reason == "end_turn"


def test_count_tokens_is_a_documented_501(client: anthropic.Anthropic):
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.count_tokens(model="sonnet", messages=user("x"))
    assert caught.value.status_code == 501
    assert caught.value.body["error"]["type"] == "api_error"


def claude_code(
    proxy: RunningProxy, claude_bin: str, tmp_path: Path, prompt: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    """The pinned CLI as a client of the proxy (its own HOME; no tools of its own)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": proxy.url,
        "ANTHROPIC_API_KEY": "sk-anything",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    argv = [claude_bin, "-p", prompt, "--output-format", "json", "--tools", "", *flags]
    return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_claude_code_as_a_client(
    tool_proxy: RunningProxy, claude_bin: str, upstream: FakeAnthropic, marker: str, tmp_path: Path
):
    """The pinned CLI, pointed at the proxy, answers a prompt through /v1/messages (the proxy
    drives its own CLI against the fake upstream)."""
    prompt = f"hello {marker} {fake_directive(reply='Hi from behind the proxy.')}"
    done = claude_code(tool_proxy, claude_bin, tmp_path, prompt)
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout)
    assert result["is_error"] is False, result
    assert result["result"] == "Hi from behind the proxy."
    assert upstream_requests(upstream, marker), "the proxy's own CLI never reached the upstream"


def test_claude_code_as_a_client_sees_the_proxys_error(
    tool_proxy: RunningProxy, claude_bin: str, upstream: FakeAnthropic, marker: str, tmp_path: Path
):
    """A model the proxy does not serve: Claude Code gets Anthropic's 404 `not_found_error`
    from /v1/messages and reports it as its own error result (no upstream request is made)."""
    done = claude_code(
        tool_proxy, claude_bin, tmp_path, f"hello {marker}", "--model", "no-such-model-here"
    )
    result = json.loads(done.stdout)
    assert result["is_error"] is True, result
    # What the proxy answered, as Claude Code read it: Anthropic's status and error type.
    assert (result["api_error_status"], result["api_error_type"]) == (404, "not_found_error")
    assert "no-such-model-here" in result["result"]
    assert upstream_requests(upstream, marker) == []
