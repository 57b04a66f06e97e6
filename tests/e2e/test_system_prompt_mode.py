"""`--system-prompt-mode` with the real CLI: what system text and first user message reach the
fake upstream in each mode, and a warm pool that follows sonnet-only traffic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from cli_bridge.engine.history import ProcessKey
from cli_bridge.protocol.instructions import DEFAULT_BASE_PROMPT
from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import (
    RunningProxy,
    cli_children,
    serve,
    upstream_requests,
    wait_no_cli_children,
)
from tests.contract import Contract

BASE = "You answer API clients through a proxy (test base prompt)."
IDENTITY_PREFIX = "You are "  # Claude Code's identity block, sent in every mode


def chat(url: str, contract: Contract, messages: list[dict], model: str = "opus") -> dict:
    body = {"model": model, "messages": messages}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    contract.check(r)
    assert r.status_code == 200, r.text
    return r.json()


def messages_for(marker: str) -> list[dict]:
    return [
        {"role": "system", "content": f"Be terse {marker}."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": f"bonjour {marker}"},
    ]


def sent(upstream: FakeAnthropic, marker: str) -> tuple[list[str], object]:
    """(the upstream request's system text blocks, its first message's content)."""
    found = upstream_requests(upstream, marker)
    assert len(found) == 1
    body = found[0]["body"]
    return [block["text"] for block in body["system"]], body["messages"][0]["content"]


@pytest.fixture(scope="module")
def proxies(base_settings: Settings) -> Iterator[dict[str, RunningProxy]]:
    """One proxy per mode; `user` with its default base prompt replaced by BASE."""
    with (
        serve(replace(base_settings, base_system_prompt=BASE)) as user,
        serve(replace(base_settings, system_prompt_mode="append")) as append,
        serve(replace(base_settings, system_prompt_mode="replace")) as replace_,
    ):
        yield {"user": user, "append": append, "replace": replace_}
        for running in (user, append, replace_):
            assert wait_no_cli_children(under=running.settings.runtime_dir) == []


def test_user_mode_is_the_default():
    assert Settings().system_prompt_mode == "user"


def test_user_mode_puts_instructions_in_the_first_user_turn(
    proxies, upstream: FakeAnthropic, contract: Contract, marker: str
):
    chat(proxies["user"].url, contract, messages_for(marker))
    system, first = sent(upstream, marker)
    assert system[-1] == BASE, "the base prompt is the system prompt's main block"
    assert not any(marker in block for block in system), "no client text in the system slot"
    assert first == (
        f"<instructions>\nBe terse {marker}.\n\nAnswer in French.\n</instructions>\n\n"
        f"bonjour {marker}"
    )


def test_append_mode_follows_claude_codes_prompt(
    proxies, upstream: FakeAnthropic, contract: Contract, marker: str
):
    chat(proxies["append"].url, contract, messages_for(marker))
    system, first = sent(upstream, marker)
    main = system[-1]
    assert main.endswith(f"\n\nBe terse {marker}.\n\nAnswer in French.")
    assert len(main) > 1000, "Claude Code's own prompt comes first"
    assert first == f"bonjour {marker}"


def test_replace_mode_is_the_system_prompt(
    proxies, upstream: FakeAnthropic, contract: Contract, marker: str
):
    chat(proxies["replace"].url, contract, messages_for(marker))
    system, first = sent(upstream, marker)
    assert system[-1] == f"Be terse {marker}.\n\nAnswer in French."
    assert system[-2].startswith(IDENTITY_PREFIX)
    assert first == f"bonjour {marker}"


@pytest.mark.parametrize(
    ("mode", "flag"),
    [("user", "--system-prompt-file"), ("append", "--append-system-prompt-file"),
     ("replace", "--system-prompt-file")],
)  # fmt: skip
def test_prompts_travel_in_private_files_never_on_argv(
    proxies, upstream: FakeAnthropic, marker: str, mode: str, flag: str
):
    running = proxies[mode]
    body = {"model": "opus", "stream": True, "messages": messages_for(marker)}
    body["messages"][-1]["content"] += f" {fake_directive(hang=True)}"
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{running.v1}/chat/completions", json=body) as r,
    ):
        assert r.status_code == 200
        deadline = time.monotonic() + 20
        while not upstream_requests(upstream, marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        (cli,) = cli_children(running.settings.runtime_dir)
        argv = cli.cmdline()
        assert not any(marker in a or "Be terse" in a or BASE in a for a in argv)
        other = {"--system-prompt-file", "--append-system-prompt-file"} - {flag}
        assert not other & set(argv)
        path = Path(argv[argv.index(flag) + 1])
        assert path.parent.parent == running.settings.runtime_dir
        assert path.stat().st_mode & 0o777 == 0o600
        expected = BASE if mode == "user" else f"Be terse {marker}.\n\nAnswer in French."
        assert path.read_text() == expected


def test_pool_follows_sonnet_only_traffic_with_a_system_prompt(
    base_settings: Settings, upstream: FakeAnthropic, contract: Contract, marker: str
):
    """The pool starts warming `opus`; a client that only asks for `sonnet`, with a system
    prompt, is served warm from its 4th request on, and the pool then holds no opus."""
    settings = replace(base_settings, pool_size=2, pool_model="opus", max_concurrency=4)
    with serve(settings) as running:
        bridge = running.state.bridge
        deadline = time.monotonic() + 20
        while len(bridge.pool.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        opus = ProcessKey(bridge.config.pool_model, DEFAULT_BASE_PROMPT)
        sonnet = ProcessKey(
            running.state.catalogue.resolve("sonnet").cli_model, DEFAULT_BASE_PROMPT
        )
        assert bridge.pool.stats()["warm_by_key"] == {opus.label: 2}
        served = []
        for i in range(6):
            hits = bridge.pool.hits
            messages = [
                {"role": "system", "content": f"You are client {i} {marker}."},
                {"role": "user", "content": f"question {i} {marker}"},
            ]
            chat(running.url, contract, messages, model="sonnet")
            served.append(bridge.pool.hits == hits + 1)
            time.sleep(1.0)  # the client reads the answer before its next request
        assert all(served[3:]), f"warm from the 4th request on: {served}"
        body = httpx.get(f"{running.url}/health", timeout=10).json()
        assert body["pool"]["warm_by_key"] == {sonnet.label: 2}
        assert body["pool"]["rebalanced"] == 2, "both opus processes retired"
        assert body["queue"]["processes"] <= 4
    assert len(upstream_requests(upstream, marker)) == 6
