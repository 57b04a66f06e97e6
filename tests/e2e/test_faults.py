"""Faults with the real CLI and the fake upstream: crashes, stalls, garbage output, client
disconnects, and a soak of 200 requests that must leave no CLI process behind."""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import cli_children, serve, upstream_requests, wait_no_cli_children
from tests.contract import Contract


def body(content: str, stream: bool) -> dict:
    return {"model": "opus", "messages": [{"role": "user", "content": content}], "stream": stream}


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return value


# --- the CLI dies mid-answer --------------------------------------------------------------
def test_cli_killed_mid_stream_ends_with_a_final_error_event(
    proxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    content = f"{marker} {fake_directive(hang=True, n_chunks=4)}"
    mine = proxy.settings.runtime_dir
    with (
        httpx.Client(base_url=proxy.url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=body(content, True)) as r,
    ):
        assert r.status_code == 200
        lines = r.iter_lines()
        seen: list[str] = []
        while not any('"content":"' in line and '"content":""' not in line for line in seen):
            seen.append(next(lines))  # wait for real text: the CLI is mid-answer
        (cli,) = cli_children(under=mine)
        os.kill(cli.pid, signal.SIGKILL)
        seen += list(lines)
    payloads = contract.check_sse("\n".join(seen) + "\n")
    assert payloads[-1]["error"]["code"] == "cli_failed"
    assert "exited with code -9" in payloads[-1]["error"]["message"]
    assert wait_no_cli_children(under=mine) == []


def test_cli_killed_mid_answer_non_stream_is_502(proxy, upstream, contract: Contract, marker):
    content = f"{marker} {fake_directive(hang=True)}"
    mine = proxy.settings.runtime_dir
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(httpx.post, f"{proxy.v1}/chat/completions", json=body(content, False))
        wait_for(lambda: upstream_requests(upstream, marker))
        (cli,) = cli_children(under=mine)
        os.kill(cli.pid, signal.SIGKILL)
        r = future.result()
    contract.check(r)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "cli_failed"
    assert wait_no_cli_children(under=mine) == []


# --- the upstream hangs: keep-alives, then the stall watchdog ------------------------------
@pytest.fixture(scope="module")
def watchdog_proxy(base_settings: Settings):
    with serve(replace(base_settings, stall_timeout=2.5, keepalive_interval=0.5)) as running:
        yield running


def test_upstream_hang_mid_stream_gets_keepalives_then_a_stall_error(
    watchdog_proxy, upstream: FakeAnthropic, contract: Contract, marker: str
):
    started = time.monotonic()
    r = httpx.post(
        f"{watchdog_proxy.v1}/chat/completions",
        json=body(f"{marker} {fake_directive(hang=True)}", True),
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    assert r.text.count(": keep-alive") >= 3, "a silent CLI still shows signs of life"
    payloads = contract.check_sse(r.text)
    assert payloads[-1]["error"]["code"] == "timeout"
    assert "stalled" in payloads[-1]["error"]["message"]
    assert 2.5 <= elapsed < 10
    assert wait_no_cli_children(under=watchdog_proxy.settings.runtime_dir) == []
    wait_for(lambda: any(e["client_disconnected"] for e in upstream_requests(upstream, marker)))


def test_upstream_hang_before_headers_non_stream_is_504(
    watchdog_proxy, contract: Contract, marker: str
):
    started = time.monotonic()
    r = httpx.post(
        f"{watchdog_proxy.v1}/chat/completions",
        json=body(f"{marker} {fake_directive(hang_before_headers=True)}", False),
        timeout=30,
    )
    contract.check(r)
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 10
    assert wait_no_cli_children(under=watchdog_proxy.settings.runtime_dir) == []


def test_slow_but_alive_answers_are_not_stalls(watchdog_proxy, contract: Contract, marker: str):
    # 8 chunks 0.6 s apart: 4.2 s in all, longer than the 2.5 s stall limit, never silent.
    directive = fake_directive(chunk_delay=0.6, n_chunks=8, reply="x" * 32)
    r = httpx.post(
        f"{watchdog_proxy.v1}/chat/completions",
        json=body(f"{marker} {directive}", True),
        timeout=30,
    )
    payloads = contract.check_sse(r.text)
    assert "error" not in payloads[-1]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
    assert text == "x" * 32


# --- a CLI that prints garbage -------------------------------------------------------------
GOOD_TURN = [
    '{"type":"system","subtype":"init","session_id":"s1","model":"fake","claude_code_version":"0"}',
    "this is not json",
    '{"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_1"}}}',
    '{"type":"stream_event","event":{"type":"content_block_start","index":0,'
    '"content_block":{"type":"text","text":""}}}',
    '{"truncated": ',
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,'
    '"delta":{"type":"text_delta","text":"Hello "}}}',
    "[1, 2, 3]",
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,'
    '"delta":{"type":"text_delta","text":"there"}}}',
    '{"type":"assistant","message":{"id":"msg_1",'
    '"content":[{"type":"text","text":"Hello there"}]}}',
    '{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning",'
    '"rateLimitType":"five_hour","resetsAt":1790000000,"utilization":0.9}}',
    '{"type":"result","subtype":"success","is_error":false,"result":"Hello there",'
    '"usage":{"input_tokens":3,"output_tokens":2},"stop_reason":"end_turn"}',
]


def fake_cli(path: Path, lines: list[str], tail: bytes = b"", code: int = 0) -> str:
    """A `claude` stand-in that reads one stdin line, then prints `lines` (plus raw `tail`)."""
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "sys.stdin.readline()\n"
        f"sys.stdout.write({chr(10).join(lines) + chr(10)!r})\n"
        f"sys.stdout.flush()\n"
        f"sys.stdout.buffer.write({tail!r} + bytes([0xff, 0xfe, 10]))\n"
        "sys.stdout.flush()\n"
        f"sys.exit({code})\n"
    )
    path.chmod(0o755)
    return str(path)


def test_malformed_lines_are_skipped(base_settings: Settings, contract: Contract, tmp_path: Path):
    claude = fake_cli(tmp_path / "claude", GOOD_TURN)
    with serve(replace(base_settings, claude_bin=claude)) as running:
        for stream in (False, True):
            r = httpx.post(f"{running.v1}/chat/completions", json=body("hi", stream), timeout=30)
            contract.check(r)
            assert r.status_code == 200
            if stream:
                chunks = contract.check_sse(r.text)
                text = "".join(
                    c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
                )
            else:
                text = r.json()["choices"][0]["message"]["content"]
            assert text == "Hello there"
        limits = httpx.get(f"{running.url}/health").json()["rate_limits"]["limits"]
        assert limits["five_hour"]["utilization"] == 0.9, "rate-limit events reach /health"


def test_only_garbage_is_502(base_settings: Settings, contract: Contract, tmp_path: Path):
    claude = fake_cli(tmp_path / "claude", ["garbage", "{}", '{"type":"nope"}'], b'{"half":')
    with serve(replace(base_settings, claude_bin=claude)) as running:
        for stream in (False, True):
            r = httpx.post(f"{running.v1}/chat/completions", json=body("hi", stream), timeout=30)
            contract.check(r)
            assert r.status_code == 502
            assert "exited with code 0 before answering" in r.json()["error"]["message"]


# --- 200 requests, random disconnects: no CLI process left --------------------------------
def _one(url: str, i: int, rng: random.Random, contract: Contract) -> str:
    stream = rng.random() < 0.5
    kind = rng.choices(["ok", "leave", "hang"], weights=[5, 3, 2])[0]
    directive = {"ok": {"chunk_delay": 0.02, "n_chunks": 4}, "hang": {"hang": True}}
    content = f"soak {i} {fake_directive(**directive.get(kind, {'chunk_delay': 0.1}))}"
    leave_after = rng.uniform(0.05, 1.5) if kind != "ok" else None
    started = time.monotonic()
    with httpx.Client(timeout=httpx.Timeout(60, read=leave_after or 60)) as client:
        try:
            if not stream:
                r = client.post(f"{url}/v1/chat/completions", json=body(content, False))
                contract.check(r)
                return str(r.status_code)
            with client.stream("POST", f"{url}/v1/chat/completions", json=body(content, True)) as r:
                if r.status_code != 200:
                    contract.check(r)
                    return str(r.status_code)
                for _ in r.iter_lines():
                    if leave_after is not None and time.monotonic() - started > leave_after:
                        return "left"
                return "200"
        except httpx.ReadTimeout:
            return "left"


def test_200_requests_with_random_disconnects_leave_no_cli(
    base_settings: Settings, contract: Contract
):
    settings = replace(
        base_settings,
        max_concurrency=3,
        max_queue=300,
        pool_size=1,
        session_idle=5,
        keepalive_interval=0.3,
    )
    rng = random.Random(4)
    seeds = [random.Random(rng.random()) for _ in range(200)]
    with serve(settings) as running:
        mine = running.settings.runtime_dir
        peak = 0
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            futures = [pool.submit(_one, running.url, i, seeds[i], contract) for i in range(200)]
            while not all(f.done() for f in futures):
                peak = max(peak, len(cli_children(under=mine)))
                time.sleep(0.05)
            outcomes = [f.result() for f in futures]
        assert not [o for o in outcomes if o.startswith("5")], outcomes
        assert outcomes.count("200") >= 60
        assert peak <= 3, "the cap holds whatever the traffic"
        bridge = running.state.bridge
        wait_for(lambda: bridge.active == 0 and bridge.scheduler.waiting == 0, timeout=30)
        # Only warm and parked processes remain, each one known to the bridge.
        expected = set(bridge.pool.pids()) | set(bridge.sessions.pids())
        wait_for(lambda: {p.pid for p in cli_children(under=mine)} == expected, timeout=15)
        assert bridge.scheduler.used == len(expected)
    assert wait_no_cli_children(under=mine) == []
    assert not any(mine.glob("run-*")) if mine.exists() else True


def test_a_429_carries_the_clis_last_retry_delay(
    base_settings: Settings, contract: Contract, tmp_path: Path
):
    """The CLI's own `api_retry` events say how long the upstream wants it to wait: the
    proxy's 429 passes the last one on as Retry-After (recorded run, 2.1.332)."""
    recorded = Path(__file__).parents[1] / "data" / "cli" / "i_429_forever.stdout"
    lines = recorded.read_text().splitlines()
    delays = [json.loads(line).get("retry_delay_ms") for line in lines]
    last = [d for d in delays if d is not None][-1]
    claude = fake_cli(tmp_path / "claude", lines)
    with serve(replace(base_settings, claude_bin=claude)) as running:
        r = httpx.post(f"{running.v1}/chat/completions", json=body("hi", False), timeout=30)
        contract.check(r)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) == max(1, int(last / 1000))  # 37.373 s -> 37
