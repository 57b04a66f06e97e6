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
from conformance.fake_anthropic import FakeAnthropic
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, cli_children, serve, upstream_requests
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


def _cli_argv(running: RunningProxy) -> list[str]:
    clis = cli_children(running.settings.runtime_dir)
    assert clis, "no CLI process of this proxy"
    return clis[0].cmdline()


def test_no_prompt_text_on_argv_and_files_are_private(base_settings: Settings):
    """Warm processes in `user` and `append` mode: the prompt is in a 0600 file."""
    for mode, flag in (("user", "--system-prompt-file"), ("append", None)):
        settings = replace(base_settings, system_prompt_mode=mode, pool_size=1)
        with serve(settings) as running:
            bridge = running.state.bridge
            deadline = time.monotonic() + 20
            while not bridge.pool.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            argv = _cli_argv(running)
            assert not any(settings.base_system_prompt in a for a in argv)
            if flag is None:  # append mode: no system text for the pool's seed at all
                assert "--system-prompt-file" not in argv
                assert "--append-system-prompt-file" not in argv
                continue
            path = Path(argv[argv.index(flag) + 1])
            assert path.read_text() == settings.base_system_prompt
            assert path.stat().st_mode & 0o777 == 0o600


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
