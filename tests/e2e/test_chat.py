"""Chat through the proxy and the real Claude Code CLI, against the fake Anthropic upstream."""

from __future__ import annotations

import openai
import pytest

from cli_bridge.formats.openai_chat.response import usage_from_result
from conformance.fake_anthropic import FakeAnthropic, fake_directive
from tests.conftest import upstream_requests


def only_request(upstream: FakeAnthropic, marker: str) -> dict:
    found = upstream_requests(upstream, marker)
    assert len(found) == 1, f"expected one upstream request for {marker}, got {len(found)}"
    return found[0]


def test_non_stream_chat(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    reply = f"Hi there, {marker}."
    directive = fake_directive(reply=reply, cache_read=7, cache_creation=3)
    completion = openai_client.chat.completions.create(
        model="opus", messages=[{"role": "user", "content": f"hello {marker} {directive}"}]
    )
    assert completion.object == "chat.completion"
    assert completion.model == "opus"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == reply
    assert choice.finish_reason == "stop"

    sent = only_request(upstream, marker)
    assert sent["body"]["model"] == "claude-opus-5-5"
    usage = sent["usage"]
    assert completion.usage.prompt_tokens == (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    assert completion.usage.prompt_tokens_details.cached_tokens == 7
    assert completion.usage.completion_tokens == usage["output_tokens"]
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_stream_chat(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    reply = f"streamed words for {marker} arrive in pieces"
    stream = openai_client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "user", "content": f"{marker} {fake_directive(reply=reply, n_chunks=5)}"}
        ],
        stream=True,
    )
    chunks = list(stream)
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    assert chunks[0].model == "sonnet"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 5, "token-level deltas must not be merged"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks), "usage only when include_usage is asked for"
    assert only_request(upstream, marker)["body"]["model"] == "claude-sonnet-5-5"


def test_stream_include_usage(openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str):
    stream = openai_client.chat.completions.create(
        model="claude-haiku-4",
        messages=[{"role": "user", "content": f"{marker} {fake_directive(cache_read=11)}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    usage = only_request(upstream, marker)["usage"]
    assert last.usage is not None
    assert last.usage.completion_tokens == usage["output_tokens"]
    assert last.usage.prompt_tokens_details.cached_tokens == 11
    assert last.usage.prompt_tokens == usage_from_result(usage)["prompt_tokens"]
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_system_and_developer_open_the_first_user_turn(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    openai_client.chat.completions.create(
        model="opus",
        messages=[
            {"role": "system", "content": f"You are terse {marker}."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [{"type": "input_text", "text": f"bonjour {marker}"}]},
        ],
    )
    body = only_request(upstream, marker)["body"]
    system_text = "\n".join(block["text"] for block in body["system"])
    assert marker not in system_text, "default `user` mode: instructions open the user turn"
    instructions = f"<instructions>\nYou are terse {marker}.\n\nAnswer in French.\n</instructions>"
    assert body["messages"][0]["content"] == f"{instructions}\n\nbonjour {marker}"


def test_history_reaches_upstream(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    completion = openai_client.chat.completions.create(
        model="claude-max/claude-opus-4",
        messages=[
            {"role": "user", "content": f"My name is Bob {marker}."},
            {"role": "assistant", "content": "Hello Bob."},
            {"role": "user", "content": "What is my name?"},
        ],
    )
    assert completion.model == "claude-max/claude-opus-4"
    prompt = str(only_request(upstream, marker)["body"]["messages"])
    for piece in (f"My name is Bob {marker}.", "Hello Bob.", "What is my name?"):
        assert piece in prompt
    assert prompt.index("Hello Bob.") < prompt.index("What is my name?")


@pytest.mark.parametrize(
    ("status", "error_class", "proxy_status"),
    [
        (401, openai.AuthenticationError, 401),
        (429, openai.RateLimitError, 429),
        (500, openai.InternalServerError, 503),
        (529, openai.InternalServerError, 503),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_are_mapped(
    openai_client: openai.OpenAI,
    upstream: FakeAnthropic,
    marker: str,
    status,
    error_class,
    proxy_status,
    stream,
):
    content = f"{marker} {fake_directive(status=status, fail_headers={'retry-after': '3'})}"
    with pytest.raises(error_class) as caught:
        result = openai_client.chat.completions.create(
            model="opus", messages=[{"role": "user", "content": content}], stream=stream
        )
        list(result) if stream else None
    err = caught.value
    assert err.status_code == proxy_status
    body = err.body
    assert set(body) == {"message", "type", "param", "code"}
    if status == 429:
        assert body["type"] == "rate_limit_error"
        assert int(err.response.headers["retry-after"]) >= 1
    if status == 401:
        assert body["type"] == "authentication_error"
    if status >= 500:  # transient: retried by the proxy (base_settings: 2 retries), then 503
        assert "retry-after" in err.response.headers
        assert len(upstream_requests(upstream, marker)) == 3
    else:  # 401 and 429 are not retried
        assert len(upstream_requests(upstream, marker)) == 1


def test_mid_stream_overload_recovers_through_the_cli_fallback(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    reply = f"recovered {marker}"
    completion = openai_client.chat.completions.create(
        model="opus",
        messages=[
            {
                "role": "user",
                "content": f"{marker} {fake_directive(reply=reply, fail_mid_stream=True)}",
            }
        ],
    )
    assert completion.choices[0].message.content == reply
    sent = upstream_requests(upstream, marker)
    assert [bool(r["stream"]) for r in sent] == [True, False], "streamed, then non-stream fallback"


def test_thinking_is_not_leaked_into_content(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    reply = f"visible answer {marker}"
    directive = fake_directive(reply=reply, thinking="secret chain of thought")
    for stream in (False, True):
        result = openai_client.chat.completions.create(
            model="opus",
            messages=[{"role": "user", "content": f"{marker} {directive}"}],
            stream=stream,
        )
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
        else:
            text = result.choices[0].message.content
        assert text == reply
