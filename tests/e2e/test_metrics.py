"""GET /metrics after real traffic: request counters, latency and time-to-first-token,
tokens by model, CLI process gauges, upstream retries and rate-limit events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, wait_no_cli_children
from tests.contract import Contract
from tests.e2e.test_hygiene import wait_for_upstream
from tests.e2e.test_sandbox import running_cli


@pytest.fixture(scope="module")
def metered(base_settings: Settings) -> Iterator[RunningProxy]:
    """A proxy of its own, so the counters start at zero. Lets the CLI retry once."""
    env = {**base_settings.cli_env, "CLAUDE_CODE_MAX_RETRIES": "1"}
    with serve(replace(base_settings, cli_env=env)) as running:
        yield running


def scrape(running: RunningProxy, contract: Contract) -> dict[tuple[str, frozenset], float]:
    r = httpx.get(f"{running.url}/metrics", timeout=10)
    contract.check(r)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def no_active_cli(running: RunningProxy, contract: Contract) -> bool:
    """The gauge drops once the bridge has reaped the process (just after it exits)."""
    deadline = time.monotonic() + 10
    while value(scrape(running, contract), "claude_proxy_cli_processes_active") != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_metrics_after_traffic(metered, contract, upstream: FakeAnthropic, marker):
    with httpx.Client(timeout=60, event_hooks={"response": [contract.hook]}) as http:
        sdk = openai.OpenAI(base_url=metered.v1, api_key="x", max_retries=0, http_client=http)
        directive = fake_directive(cache_read=5, cache_creation=2, output_tokens=11)
        messages = [{"role": "user", "content": f"{marker} {directive}"}]
        sdk.chat.completions.create(model="opus", messages=messages)
        list(sdk.chat.completions.create(model="sonnet", messages=messages, stream=True))
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="gpt-9", messages=messages)
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(
                model="opus",
                messages=[{"role": "user", "content": f"{marker} {fake_directive(status=429)}"}],
            )
    m = scrape(metered, contract)
    chat = "create_chat_completion"
    total = "claude_proxy_http_requests_total"
    assert value(m, total, route=chat, method="POST", status="200", model="opus") == 1
    assert value(m, total, route=chat, method="POST", status="200", model="sonnet") == 1
    assert value(m, total, route=chat, method="POST", status="404", model="") == 1
    assert value(m, total, route=chat, method="POST", status="429", model="opus") == 1
    assert (
        value(m, "claude_proxy_http_request_duration_seconds_count", route=chat, model="opus") == 2
    )
    assert value(m, "claude_proxy_time_to_first_token_seconds_count", model="opus") == 1
    assert value(m, "claude_proxy_time_to_first_token_seconds_count", model="sonnet") == 1
    assert value(m, "claude_proxy_time_to_first_token_seconds_sum", model="opus") > 0

    ok = [r for r in upstream.requests if marker in str(r.get("body")) and r["status"] == 200]
    usage = ok[0]["usage"]
    tokens = "claude_proxy_tokens_total"
    assert value(m, tokens, model="opus", kind="input") == usage["input_tokens"]
    assert value(m, tokens, model="opus", kind="output") == 11
    assert value(m, tokens, model="opus", kind="cache_read") == 5
    assert value(m, tokens, model="opus", kind="cache_write") == 2
    assert value(m, tokens, model="sonnet", kind="output") == 11
    assert value(m, "claude_proxy_rate_limit_events_total", status="upstream_429") == 1
    assert value(m, "claude_proxy_cli_turns_total", model="opus") == 2
    assert value(m, "claude_proxy_cli_requests_queued") == 0
    assert value(m, "claude_proxy_cli_pool_size") == 0
    assert no_active_cli(metered, contract)
    assert value(m, "claude_proxy_build_info", version=next(
        dict(k)["version"] for (n, k) in m if n == "claude_proxy_build_info"
    )) == 1  # fmt: skip


def test_upstream_retries_are_counted(metered, contract, upstream, marker):
    before = value(scrape(metered, contract), "claude_proxy_upstream_retries_total", status="500")
    directive = fake_directive(status=500, fail_count=1, id=marker)
    r = httpx.post(
        f"{metered.v1}/chat/completions",
        json={"model": "opus", "messages": [{"role": "user", "content": f"{marker} {directive}"}]},
        timeout=60,
    )
    contract.check(r)
    assert r.status_code == 200  # the CLI retried and the second attempt worked
    after = value(scrape(metered, contract), "claude_proxy_upstream_retries_total", status="500")
    assert after == before + 1


def test_active_cli_gauge_while_a_request_runs(metered, contract, upstream, marker):
    assert wait_no_cli_children() == []
    content = f"{marker} {fake_directive(hang=True)}"
    body = {"model": "opus", "stream": True, "messages": [{"role": "user", "content": content}]}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{metered.v1}/chat/completions", json=body) as r,
    ):
        assert r.status_code == 200
        running_cli(metered.settings.claude_bin)
        wait_for_upstream(upstream, marker)
        assert value(scrape(metered, contract), "claude_proxy_cli_processes_active") == 1
    assert wait_no_cli_children() == []  # the client left: the CLI was killed
    assert no_active_cli(metered, contract)
