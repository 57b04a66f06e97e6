"""Process hygiene and failure paths with the real CLI: disconnects, timeouts, a crash."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import cli_children, serve, upstream_requests, wait_no_cli_children
from tests.contract import Contract


def wait_for_upstream(upstream: FakeAnthropic, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not upstream_requests(upstream, marker):
        assert time.monotonic() < deadline, "the request never reached the upstream"
        time.sleep(0.05)


def chat_body(marker: str, stream: bool, **directive) -> dict:
    content = f"{marker} {fake_directive(**directive)}"
    return {"model": "opus", "messages": [{"role": "user", "content": content}], "stream": stream}


def test_stream_disconnect_kills_cli(proxy, upstream: FakeAnthropic, marker: str):
    assert wait_no_cli_children() == []
    with (
        httpx.Client(base_url=proxy.url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=chat_body(marker, True, hang=True)) as r,
    ):
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        assert cli_children(), "the CLI should be running while the stream is open"
    # leaving the block closes the connection mid-stream
    assert wait_no_cli_children() == []
    # The fake notices the CLI's connection drop on its next poll (every 0.2 s).
    deadline = time.monotonic() + 5
    while not any(e["client_disconnected"] for e in upstream_requests(upstream, marker)):
        assert time.monotonic() < deadline, "the upstream never saw the CLI hang up"
        time.sleep(0.05)


def test_non_stream_disconnect_kills_cli(proxy, upstream: FakeAnthropic, marker: str):
    assert wait_no_cli_children() == []
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{proxy.url}/v1/chat/completions", json=chat_body(marker, False, hang=True), timeout=3
        )
    wait_for_upstream(upstream, marker)
    assert wait_no_cli_children() == []


def test_runtime_dirs_are_cleaned(proxy, openai_client: openai.OpenAI, marker: str):
    openai_client.chat.completions.create(
        model="opus", messages=[{"role": "user", "content": marker}]
    )
    assert wait_no_cli_children() == []
    runtime = proxy.settings.runtime_dir
    deadline = time.monotonic() + 5
    while list(runtime.glob("run-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(runtime.glob("run-*")) == []


@pytest.fixture(scope="module")
def short_timeout_proxy(base_settings: Settings):
    with serve(replace(base_settings, request_timeout=3)) as running:
        yield running


def test_timeout_is_504_and_kills_cli(short_timeout_proxy, contract: Contract, marker: str):
    started = time.monotonic()
    r = httpx.post(
        f"{short_timeout_proxy.url}/v1/chat/completions",
        json=chat_body(marker, False, hang_before_headers=True),
        timeout=30,
    )
    contract.check(r)
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 15
    assert wait_no_cli_children() == []


def test_error_after_stream_started_is_a_final_sse_event(
    short_timeout_proxy, contract: Contract, marker: str
):
    r = httpx.post(
        f"{short_timeout_proxy.url}/v1/chat/completions",
        json=chat_body(marker, True, hang=True),
        timeout=30,
    )
    assert r.status_code == 200
    payloads = contract.check_sse(r.text)
    assert payloads[-1]["error"]["code"] == "timeout"
    assert not any(p.get("choices") and p["choices"][0]["finish_reason"] for p in payloads[:-1])
    assert wait_no_cli_children() == []


def test_cli_crash_without_result_is_502(base_settings: Settings, contract: Contract, tmp_path):
    fake_cli = tmp_path / "crashing-claude"
    fake_cli.write_text("#!/bin/sh\necho 'boom: something broke' >&2\nexit 3\n")
    fake_cli.chmod(0o755)
    with serve(replace(base_settings, claude_bin=str(fake_cli))) as running:
        r = httpx.post(
            f"{running.url}/v1/chat/completions",
            json={"model": "opus", "messages": [{"role": "user", "content": "hi"}]},
        )
        contract.check(r)
        assert r.status_code == 502
        assert "boom: something broke" in r.json()["error"]["message"]
        assert "exited with code 3" in r.json()["error"]["message"]


def test_debug_subprocess_logs(base_settings: Settings, caplog, marker: str):
    caplog.set_level("INFO", logger="cli_bridge")
    with serve(replace(base_settings, debug=True)) as running:
        r = httpx.post(
            f"{running.url}/v1/chat/completions",
            json={"model": "opus", "messages": [{"role": "user", "content": marker}]},
            timeout=60,
        )
        assert r.status_code == 200
    text = caplog.text
    assert "spawned pid=" in text and "--output-format" in text
    assert "exit code 0" in text
    assert "event TextDelta" in text
