"""A Python client generated from openapi.yaml (openapi-python-client, offline) talks to the
proxy: what a user who generates stubs from our spec gets must keep working.

The spec names its nested request objects (`ResponseFormatJsonSchema`, `WebSearchUserLocation`,
...) because openapi-python-client drops inline objects nested in nullable ones; generation must
stay free of warnings.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conformance.conftest import PLAIN_REPLY, prompt_for
from tests.conftest import RunningProxy
from tests.contract import SPEC_PATH

PACKAGE = "claude_proxy_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("generated")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")  # no ruff/black run on the generated code
    generator = Path(sys.executable).parent / "openapi-python-client"
    proc = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(SPEC_PATH),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(root / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Warning" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models() -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.models")


def test_generated_client_chats_and_lists_models(generated: ModuleType, backend: RunningProxy):
    m = models()
    client = generated.Client(base_url=backend.url, raise_on_unexpected_status=True)
    request = m.CreateChatCompletionRequest(
        model="opus",
        messages=[
            m.ChatCompletionRequestMessage(
                role=m.ChatCompletionRequestMessageRole.USER,
                content=prompt_for("Hello", "plain", reply=PLAIN_REPLY, n_chunks=4),
            )
        ],
        temperature=0.5,
    )
    chat = api("chat.create_chat_completion")
    answer = chat.sync(client=client, body=request)
    assert isinstance(answer, m.CreateChatCompletionResponse)
    assert answer.choices[0].message.content == PLAIN_REPLY
    assert answer.choices[0].finish_reason == m.ChatCompletionChoiceFinishReason.STOP

    listed = api("models.list_models").sync(client=client)
    assert isinstance(listed, m.ListModelsResponse)
    assert "claude-opus-4" in [model.id for model in listed.data]

    one = api("models.retrieve_model").sync("claude-sonnet-4", client=client)
    assert isinstance(one, m.Model) and one.id == "claude-sonnet-4"


def test_generated_client_parses_error_envelopes(generated: ModuleType, proxy: RunningProxy):
    m = models()
    client = generated.Client(base_url=proxy.url)
    message = m.ChatCompletionRequestMessage(
        role=m.ChatCompletionRequestMessageRole.USER, content="x"
    )
    request = m.CreateChatCompletionRequest(model="gpt-9", messages=[message])
    response = api("chat.create_chat_completion").sync_detailed(client=client, body=request)
    assert response.status_code == 404
    assert isinstance(response.parsed, m.ErrorResponse)
    assert response.parsed.error.code == "model_not_found"


def test_generated_client_creates_gets_and_deletes_a_response(
    generated: ModuleType, backend: RunningProxy
):
    m = models()
    client = generated.Client(base_url=backend.url, raise_on_unexpected_status=True)
    prompt = prompt_for("Hello", "plain", reply=PLAIN_REPLY, n_chunks=4)
    body = m.CreateResponseRequest.from_dict({"model": "opus", "input": prompt})
    created = api("responses.create_response").sync(client=client, body=body)
    assert isinstance(created, m.ResponseObject)
    assert created.id.startswith("resp_") and created.output[0].content[0].text == PLAIN_REPLY
    again = api("responses.get_response").sync(created.id, client=client)
    assert isinstance(again, m.ResponseObject) and again.id == created.id
    deleted = api("responses.delete_response").sync(created.id, client=client)
    assert isinstance(deleted, m.DeletedResponse) and deleted.deleted is True
    gone = api("responses.get_response").sync_detailed(created.id, client=generated.Client(
        base_url=backend.url))  # fmt: skip
    assert gone.status_code == 404 and isinstance(gone.parsed, m.ErrorResponse)


def test_generated_client_creates_a_message(generated: ModuleType, backend: RunningProxy):
    m = models()
    client = generated.Client(base_url=backend.url, raise_on_unexpected_status=True)
    prompt = prompt_for("Hello", "plain", reply=PLAIN_REPLY, n_chunks=4)
    body = m.CreateMessageRequest.from_dict(
        {
            "model": "opus",
            "max_tokens": 256,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": prompt}],
        }
    )
    message = api("messages.create_message").sync(
        client=client, body=body, anthropic_version="2023-06-01"
    )
    assert isinstance(message, m.Message)
    assert message.id.startswith("msg_") and message.content[0].text == PLAIN_REPLY
    assert message.stop_reason == m.MessageStopReasonType1.END_TURN
    assert message.usage.output_tokens > 0


def test_generated_client_parses_anthropic_errors(generated: ModuleType, proxy: RunningProxy):
    m = models()
    client = generated.Client(base_url=proxy.url)
    body = m.CreateMessageRequest.from_dict(
        {"model": "gpt-9", "max_tokens": 16, "messages": [{"role": "user", "content": "x"}]}
    )
    missing = api("messages.create_message").sync_detailed(client=client, body=body)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, m.AnthropicErrorResponse)
    assert missing.parsed.error.type_ == "not_found_error"

    count = api("messages.count_tokens").sync_detailed(
        client=client, body=m.CountTokensBody.from_dict({"model": "opus", "messages": []})
    )
    assert count.status_code == 501
    assert isinstance(count.parsed, m.AnthropicErrorResponse)
    assert count.parsed.error.type_ == "api_error"
