"""Generation controls end to end: the real CLI, the fake upstream and the openai SDK.

`max_tokens` and `reasoning_effort` reach the upstream request; a truncated answer ends with
`finish_reason: "length"`; `stop` cuts the answer and the CLI's turn; impossible options are
a 400 naming the parameter before any CLI process starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, upstream_requests, wait_no_cli_children
from tests.contract import Contract


def ask(client: openai.OpenAI, content: str, *, stream: bool, **options: Any) -> tuple[str, str]:
    """(text, finish_reason) of one completion, streamed or not."""
    messages = [{"role": "user", "content": content}]
    if not stream:
        done = client.chat.completions.create(model="opus", messages=messages, **options)
        choice = done.choices[0]
        return choice.message.content or "", choice.finish_reason
    chunks = list(
        client.chat.completions.create(model="opus", messages=messages, stream=True, **options)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert reasons[-1] is not None and reasons.count(reasons[-1]) == 1
    return text, reasons[-1]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_reaches_the_upstream_and_truncation_is_length(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, stream: bool, param: str
):
    directive = fake_directive(reply=f"cut short {marker}", stop_reason="max_tokens")
    text, reason = ask(openai_client, f"{marker} {directive}", stream=stream, **{param: 37})
    assert reason == "length"
    assert text.startswith(f"cut short {marker}")
    sent = upstream_requests(upstream, marker)
    assert sent and all(r["body"]["max_tokens"] == 37 for r in sent)


def test_without_a_limit_the_default_reaches_the_upstream(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    text, reason = ask(openai_client, f"{marker} {fake_directive(reply='ok')}", stream=False)
    assert (text, reason) == ("ok", "stop")
    (sent,) = upstream_requests(upstream, marker)
    assert sent["body"]["max_tokens"] > 1000


@pytest.mark.parametrize(("given", "sent"), [("high", "high"), ("minimal", "low")])
def test_reasoning_effort_reaches_the_upstream(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, given: str, sent: str
):
    directive = fake_directive(reply="thought about it")
    text, _ = ask(openai_client, f"{marker} {directive}", stream=False, reasoning_effort=given)
    assert text == "thought about it"
    (request,) = upstream_requests(upstream, marker)
    assert request["body"]["output_config"]["effort"] == sent


@pytest.mark.parametrize("stream", [False, True])
def test_stop_cuts_the_answer_and_the_turn(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, stream: bool
):
    reply = f"alpha {marker} beta END gamma delta"
    directive = fake_directive(reply=reply, n_chunks=12, chunk_delay=0.05)
    text, reason = ask(
        openai_client, f"{marker} {directive}", stream=stream, stop=["NEVER", " END"]
    )
    assert (text, reason) == (f"alpha {marker} beta", "stop")
    assert wait_no_cli_children(timeout=10) == [], "a turn cut at a stop leaves no process"


@pytest.mark.parametrize("stream", [False, True])
def test_stop_ends_the_cli_turn_at_once(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, stream: bool
):
    """The upstream sends the stop sequence, then hangs: only a stopped turn answers."""
    directive = fake_directive(reply=f"one {marker} two. three", n_chunks=1, hang=True)
    started = time.monotonic()
    text, reason = ask(openai_client, f"{marker} {directive}", stream=stream, stop=".")
    assert (text, reason) == (f"one {marker} two", "stop")
    assert time.monotonic() - started < 20, "the answer waited for the hung upstream"
    assert wait_no_cli_children(timeout=10) == []
    deadline = time.monotonic() + 10  # the fake notices a hang-up within 0.2 s
    while not upstream_requests(upstream, marker)[0]["client_disconnected"]:
        assert time.monotonic() < deadline, "the CLI never dropped its upstream request"
        time.sleep(0.1)


def test_stop_not_met_changes_nothing(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    reply = f"nothing to stop in {marker}"
    directive = fake_directive(reply=reply, n_chunks=6)
    assert ask(openai_client, f"{marker} {directive}", stream=True, stop="XYZ") == (reply, "stop")


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "mp3"}}, "audio"),
        ({"n": 2}, "n"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_impossible_options_are_a_400_naming_them(
    openai_client: openai.OpenAI,
    upstream: FakeAnthropic,
    marker: str,
    options: dict[str, Any],
    param: str,
    stream: bool,
):
    with pytest.raises(openai.BadRequestError) as caught:
        ask(openai_client, f"hello {marker}", stream=stream, **options)
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param
    assert caught.value.body["type"] == "invalid_request_error"
    assert upstream_requests(upstream, marker) == []


def test_harmless_options_are_accepted(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    options = dict(
        temperature=0.2,
        top_p=0.9,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logit_bias={"50256": -100},
        user="u1",
        store=False,
        metadata={"k": "v"},
        service_tier="auto",
        logprobs=False,
        n=1,
        modalities=["text"],
        prediction={"type": "content", "content": "x"},
    )
    content = f"{marker} {fake_directive(reply='fine')}"
    text, reason = ask(openai_client, content, stream=False, **options)
    assert (text, reason) == ("fine", "stop")


# --- per-process settings: warm and live processes of other settings never serve -----------
@pytest.fixture(scope="module")
def keyed_proxy(base_settings: Settings) -> Iterator[RunningProxy]:
    """A warm pool of one and a 30 s window for live conversations."""
    with serve(replace(base_settings, pool_size=1, session_idle=30)) as running:
        yield running
    assert wait_no_cli_children(under=running.settings.runtime_dir) == []


def keyed_client(proxy: RunningProxy, contract: Contract) -> openai.OpenAI:
    http = httpx.Client(timeout=60, event_hooks={"response": [contract.hook]})
    return openai.OpenAI(base_url=proxy.v1, api_key="sk-x", max_retries=0, http_client=http)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return value


def test_a_warm_process_of_the_default_settings_never_serves_a_limit(
    keyed_proxy: RunningProxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    bridge = keyed_proxy.state.bridge
    (warm,) = wait_until(lambda: bridge.pool.pids())
    hits = bridge.pool.stats()["hits"]
    client = keyed_client(keyed_proxy, contract)
    ask(client, f"{marker} {fake_directive(reply='x')}", stream=False, max_tokens=37)
    assert bridge.pool.stats()["hits"] == hits
    assert warm in bridge.pool.pids(), "the default warm process is still waiting"
    (sent,) = upstream_requests(upstream, marker)
    assert sent["body"]["max_tokens"] == 37


def test_a_live_conversation_continues_only_with_its_own_settings(
    keyed_proxy: RunningProxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    sessions = keyed_proxy.state.bridge.sessions
    client = keyed_client(keyed_proxy, contract)
    first = [{"role": "user", "content": f"Hello {marker}"}]
    done = client.chat.completions.create(model="opus", messages=first, reasoning_effort="high")
    history = [*first, {"role": "assistant", "content": done.choices[0].message.content}]
    hits = sessions.hits
    other = client.chat.completions.create(
        model="opus",
        messages=[*history, {"role": "user", "content": "low?"}],
        reasoning_effort="low",
    )
    assert other.choices[0].finish_reason == "stop"
    assert sessions.hits == hits, "a process started with effort high answered effort low"
    client.chat.completions.create(
        model="opus",
        messages=[*history, {"role": "user", "content": "high?"}],
        reasoning_effort="high",
    )
    assert sessions.hits == hits + 1, "the same settings continue on the live process"
    efforts = [r["body"]["output_config"]["effort"] for r in upstream_requests(upstream, marker)]
    assert efforts == ["high", "low", "high"]
