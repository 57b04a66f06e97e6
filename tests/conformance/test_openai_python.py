"""The official openai Python SDK, sync and async, against the proxy on uvicorn: once driving
the real CLI (fake upstream), once the replay CLI. Its default HTTP client is used, as by users;
the contract guard validates every response it receives."""

from __future__ import annotations

import openai
import pytest

from tests.conformance.conftest import PLAIN_REPLY, prompt_for
from tests.conftest import RunningProxy

PLAIN = prompt_for("Hello", "plain", reply=PLAIN_REPLY, n_chunks=4)
ERRORS = [
    (401, openai.AuthenticationError, "error_401"),
    (429, openai.RateLimitError, "error_429"),
]


def messages(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def sync_client(proxy: RunningProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.v1, api_key="sk-anything", max_retries=0)


def async_client(proxy: RunningProxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.v1, api_key="sk-anything", max_retries=0)


def test_sync_chat(backend: RunningProxy):
    completion = sync_client(backend).chat.completions.create(
        model="opus", messages=messages(PLAIN)
    )
    assert completion.object == "chat.completion"
    assert completion.model == "opus"
    assert completion.choices[0].message.content == PLAIN_REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_sync_stream(backend: RunningProxy):
    chunks = list(
        sync_client(backend).chat.completions.create(
            model="sonnet",
            messages=messages(PLAIN),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == PLAIN_REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_async_chat_and_stream(backend: RunningProxy):
    client = async_client(backend)
    completion = await client.chat.completions.create(model="opus", messages=messages(PLAIN))
    assert completion.choices[0].message.content == PLAIN_REPLY
    stream = await client.chat.completions.create(
        model="opus", messages=messages(PLAIN), stream=True
    )
    pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(pieces) == PLAIN_REPLY
    await client.close()


def test_models(backend: RunningProxy):
    client = sync_client(backend)
    ids = [m.id for m in client.models.list()]
    assert {"opus", "sonnet", "claude-opus-4", "claude-sonnet-5-5"} <= set(ids)
    assert client.models.retrieve("claude-max/claude-opus-4").id == "claude-max/claude-opus-4"


async def test_async_models(backend: RunningProxy):
    client = async_client(backend)
    page = await client.models.list()
    assert "haiku" in [m.id async for m in page]
    await client.close()


def test_bad_request_is_400(backend: RunningProxy):
    with pytest.raises(openai.BadRequestError) as caught:
        sync_client(backend).chat.completions.create(model="opus", messages=messages(PLAIN), n=2)
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "n"
    assert caught.value.body["type"] == "invalid_request_error"


def test_unknown_model_is_404(backend: RunningProxy):
    with pytest.raises(openai.NotFoundError) as caught:
        sync_client(backend).chat.completions.create(model="gpt-9", messages=messages(PLAIN))
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(("status", "error_class", "scenario"), ERRORS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_errors_raise_the_matching_class(
    backend: RunningProxy,
    status: int,
    error_class: type[openai.APIStatusError],
    scenario: str,
    stream,
):
    content = prompt_for("Hello", scenario, status=status, fail_headers={"retry-after": "3"})
    with pytest.raises(error_class) as caught:
        result = sync_client(backend).chat.completions.create(
            model="opus", messages=messages(content), stream=stream
        )
        list(result) if stream else None
    assert caught.value.status_code == status
    assert set(caught.value.body) == {"message", "type", "param", "code"}


async def test_async_error_class(backend: RunningProxy):
    client = async_client(backend)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="opus", messages=messages(prompt_for("Hi", "error_429", status=429))
        )
    await client.close()
