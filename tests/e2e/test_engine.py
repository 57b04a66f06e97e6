"""The process engine with the real CLI: warm pool, live conversations, queue, retries."""

from __future__ import annotations

import concurrent.futures
import json
import time
from dataclasses import replace

import httpx
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import cli_children, serve, upstream_requests, wait_no_cli_children
from tests.contract import Contract


def wait_until(predicate, timeout: float = 20.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(step)
    return value


def health(url: str, contract: Contract) -> dict:
    r = httpx.get(f"{url}/health", timeout=10)
    contract.check(r)
    return r.json()


def answer_text(r: httpx.Response, contract: Contract) -> str:
    """The assistant text of a JSON or SSE answer."""
    if r.headers["content-type"].startswith("text/event-stream"):
        chunks = contract.check_sse(r.text)
        return "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
        )
    return r.json()["choices"][0]["message"]["content"]


def chat(url: str, contract: Contract, messages: list[dict], **extra) -> httpx.Response:
    body = {"model": "opus", "messages": messages, **extra}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    contract.check(r)
    return r


@pytest.fixture(scope="module")
def engine_proxy(base_settings: Settings):
    """A warm pool of one and a 30 s window for live conversations."""
    with serve(replace(base_settings, pool_size=1, session_idle=30)) as running:
        yield running
    assert wait_no_cli_children(under=running.settings.runtime_dir) == []


def test_warm_pool_serves_a_first_turn(engine_proxy, contract: Contract, marker: str):
    url, bridge = engine_proxy.url, engine_proxy.state.bridge
    wait_until(lambda: bridge.pool.pids())
    (warm,) = bridge.pool.pids()
    hits = health(url, contract)["pool"]["hits"]
    r = chat(url, contract, [{"role": "user", "content": f"first {marker}"}])
    assert r.status_code == 200
    assert health(url, contract)["pool"]["hits"] == hits + 1
    # The warm process answered and now holds this conversation; the pool has started a
    # fresh process for the next newcomer.
    assert warm in bridge.sessions.pids()
    fresh = wait_until(lambda: bridge.pool.pids())
    assert warm not in fresh
    mine = {p.pid for p in cli_children(under=engine_proxy.settings.runtime_dir)}
    assert set(bridge.live_pids()) == mine


def test_live_process_takes_the_next_turn_of_its_conversation(
    engine_proxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    url = engine_proxy.url
    first = [{"role": "user", "content": f"My name is Bob {marker}."}]
    reply = chat(url, contract, first).json()["choices"][0]["message"]["content"]
    hits = health(url, contract)["pool"]["sessions"]["hits"]
    second = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "And?"}]
    r = chat(url, contract, second, stream=True)
    assert r.status_code == 200
    assert health(url, contract)["pool"]["sessions"]["hits"] == hits + 1
    sent = upstream_requests(upstream, marker)
    assert len(sent) == 2
    messages = sent[1]["body"]["messages"]
    # The live CLI kept the real turns: the first user message is the original text (not
    # a rendered <conversation_history>), and only "And?" was written for the new turn.
    assert messages[0]["content"] == first[0]["content"]
    assert [m["role"] for m in messages][-2:] == ["assistant", "user"]
    assert "conversation_history" not in json.dumps(messages)
    assert json.dumps(messages).count("And?") == 1


def test_edited_history_never_reaches_the_live_process(
    engine_proxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    url = engine_proxy.url
    first = [{"role": "user", "content": f"Count {marker}."}]
    reply = chat(url, contract, first).json()["choices"][0]["message"]["content"]
    hits = health(url, contract)["pool"]["sessions"]["hits"]
    edits = (
        [*first, {"role": "assistant", "content": reply + " (edited)"}],
        [{"role": "system", "content": "new"}, *first, {"role": "assistant", "content": reply}],
        [{"role": "user", "content": f"Count {marker}!"}, {"role": "assistant", "content": reply}],
    )
    for edited in edits:
        r = chat(url, contract, [*edited, {"role": "user", "content": "next"}])
        assert r.status_code == 200
    assert health(url, contract)["pool"]["sessions"]["hits"] == hits
    later = upstream_requests(upstream, marker)[1:]
    assert len(later) == 3
    for edited, sent in zip(edits, later, strict=True):
        # Each went to a fresh process that resumed exactly the edited turns.
        turns = [m for m in sent["body"]["messages"] if m["role"] != "system"]
        texts = [
            m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
            for m in turns
        ]
        wanted = [m["content"] for m in edited if m["role"] != "system"]
        if edited[0]["role"] == "system":  # `--system-prompt-mode user`: it opens turn one
            wanted[0] = f"<instructions>\nnew\n</instructions>\n\n{wanted[0]}"
        assert texts == [*wanted, "next"]
        assert [m["role"] for m in turns] == ["user", "assistant", "user"]


def test_health_reports_queue_pool_and_rate_limits(engine_proxy, contract: Contract):
    body = health(engine_proxy.url, contract)
    assert set(body["queue"]) >= {"active", "queued", "max_concurrency", "max_queue", "processes"}
    assert body["queue"]["max_concurrency"] >= 1
    assert set(body["pool"]) >= {"size", "warm", "hits", "misses", "sessions"}
    assert set(body["rate_limits"]) >= {"limits", "upstream_errors", "proxy_retries"}


# --- queue --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_proxy(base_settings: Settings):
    """One CLI process at a time, two requests may wait."""
    with serve(replace(base_settings, max_concurrency=1, max_queue=2, keepalive_interval=0.5)) as p:
        yield p


def test_burst_beyond_the_queue_is_429_never_5xx(tiny_proxy, contract: Contract, marker: str):
    slow = fake_directive(chunk_delay=0.3, n_chunks=4)

    def one(i: int) -> httpx.Response:
        content = f"{marker} {i} {slow}"
        messages = [{"role": "user", "content": content}]
        return chat(tiny_proxy.url, contract, messages, stream=bool(i % 2))

    mine = tiny_proxy.settings.runtime_dir
    peak = 0
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(8)]
        while not all(f.done() for f in futures):
            peak = max(peak, len(cli_children(under=mine)))
            time.sleep(0.02)
        responses = [f.result() for f in futures]
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 3, "one running and two queued are served"
    assert statuses.count(429) >= 1
    for r in responses:
        if r.status_code == 429:
            assert r.json()["error"]["type"] == "rate_limit_error"
            assert r.json()["error"]["code"] == "queue_full"
            assert int(r.headers["retry-after"]) >= 1
    assert peak <= 1, "never more CLI processes than --max-concurrency"
    assert health(tiny_proxy.url, contract)["queue"]["rejected"] >= statuses.count(429)
    assert wait_no_cli_children(under=mine) == []


def test_queue_wait_counts_toward_the_timeout(base_settings: Settings, contract: Contract, marker):
    settings = replace(base_settings, max_concurrency=1, request_timeout=3)
    with serve(settings) as running, concurrent.futures.ThreadPoolExecutor(2) as pool:
        hog = pool.submit(
            chat, running.url, contract, [{"role": "user", "content": fake_directive(hang=True)}]
        )
        wait_until(lambda: health(running.url, contract)["queue"]["active"] == 1)
        started = time.monotonic()
        waiter = pool.submit(chat, running.url, contract, [{"role": "user", "content": marker}])
        wait_until(lambda: health(running.url, contract)["queue"]["queued"] == 1)
        r = waiter.result()
        # Had the queue time not counted, the waiter (an instant answer) would have been
        # served once the hog timed out; instead its own 3 s ran out while it waited.
        assert r.status_code == 504
        assert r.json()["error"]["code"] == "timeout"
        assert time.monotonic() - started < 3.5
        assert hog.result().status_code == 504
    assert wait_no_cli_children(under=running.settings.runtime_dir) == []


def test_client_leaving_the_queue_frees_its_place(tiny_proxy, contract: Contract, marker: str):
    url = tiny_proxy.url
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        hang = [{"role": "user", "content": f"{marker} {fake_directive(hang=True)}"}]
        hog = pool.submit(chat, url, contract, hang)
        wait_until(lambda: health(url, contract)["queue"]["active"] == 1)
        body = {"model": "opus", "messages": [{"role": "user", "content": marker}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/chat/completions", json=body, timeout=1)
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json={**body, "stream": True}, timeout=5
        ) as r:  # while queued the stream opens after one keep-alive interval
            assert r.status_code == 200
            lines = r.iter_lines()  # keep it: a dropped iterator closes the connection
            assert next(lines).startswith("data: ")
            assert health(url, contract)["queue"]["queued"] == 1
        wait_until(lambda: health(url, contract)["queue"]["queued"] == 0, timeout=5)
        mine = tiny_proxy.settings.runtime_dir
        assert len(cli_children(under=mine)) == 1, "requests that left never spawned a CLI"
        for child in cli_children(under=mine):
            child.kill()  # end the hog: its CLI dies, the request gets its error
        assert hog.result().status_code == 502
    assert wait_no_cli_children(under=mine) == []


# --- upstream retries ----------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_transient_overload_is_retried_then_served(
    proxy, upstream: FakeAnthropic, contract: Contract, marker: str, stream: bool
):
    retried = health(proxy.url, contract)["rate_limits"]["proxy_retries"]
    directive = fake_directive(status=529, fail_count=2, id=marker, reply="ok " + marker)
    content = f"{marker} {directive}"
    r = chat(proxy.url, contract, [{"role": "user", "content": content}], stream=stream)
    assert r.status_code == 200
    assert answer_text(r, contract) == "ok " + marker
    assert [e["status"] for e in upstream_requests(upstream, marker)] == [529, 529, 200]
    after = health(proxy.url, contract)["rate_limits"]
    assert after["proxy_retries"] == retried + 2
    assert after["upstream_errors"]["529"] >= 2


def test_rate_limit_is_reported_in_seconds_not_minutes(
    proxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    started = time.monotonic()
    content = f"{marker} {fake_directive(status=429)}"
    r = chat(proxy.url, contract, [{"role": "user", "content": content}])
    assert r.status_code == 429
    assert time.monotonic() - started < 10
    assert len(upstream_requests(upstream, marker)) == 1, "the CLI did not retry by itself"
    assert int(r.headers["retry-after"]) >= 1
    last = health(proxy.url, contract)["rate_limits"]["last_upstream_error"]
    assert last["status"] == 429 and last["retried"] is False


def test_live_processes_are_never_shared_between_api_keys(
    base_settings: Settings, contract: Contract, marker: str
):
    alice, bob = "alice-key-0123456789", "bob-key-0123456789ab"
    settings = replace(base_settings, session_idle=30, api_keys=(alice, bob))
    with serve(settings) as running:
        sessions = running.state.bridge.sessions

        def ask(key: str, messages: list[dict]) -> str:
            r = httpx.post(
                f"{running.v1}/chat/completions",
                json={"model": "opus", "messages": messages},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            contract.check(r)
            assert r.status_code == 200
            return r.json()["choices"][0]["message"]["content"]

        first = [{"role": "user", "content": f"shared secret plan {marker}"}]
        reply = ask(alice, first)
        second = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "?"}]
        ask(bob, second)  # same visible history, other caller: a fresh process
        assert sessions.hits == 0
        ask(alice, second)
        assert sessions.hits == 1
    assert wait_no_cli_children(under=running.settings.runtime_dir) == []


def test_metrics_show_the_engine(proxy, upstream: FakeAnthropic, contract: Contract, marker):
    directive = fake_directive(status=529, fail_count=1, id=marker)
    r = chat(proxy.url, contract, [{"role": "user", "content": f"{marker} {directive}"}])
    assert r.status_code == 200
    text = httpx.get(f"{proxy.url}/metrics").text
    retried = [line for line in text.splitlines() if line.startswith("claude_proxy_proxy_retries")]
    assert retried and float(retried[0].split()[-1]) >= 1
    for gauge in ("cli_processes_active", "cli_requests_queued", "cli_pool_size"):
        assert f"claude_proxy_{gauge} " in text
