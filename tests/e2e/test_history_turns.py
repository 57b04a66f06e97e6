"""History as real turns, always (issue 9.1), at the fake upstream with the real CLI.

Whatever serves a request (a live process holding the conversation, a fresh process that
resumes a transcript the proxy wrote, a proxy restarted after `kill -9`), the upstream
receives the prior turns as alternating user / assistant messages with their original text,
then the new message, and nothing of any other branch or client. Nothing the proxy wrote for
a turn outlives it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from cli_bridge.protocol.transcript import project_slug, projects_dir
from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, upstream_requests
from tests.contract import Contract
from tests.e2e.test_shutdown import ProxyProcess, proxy_process, wait_for

Message = dict[str, Any]


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def assistant(text: str) -> Message:
    return {"role": "assistant", "content": text}


def said(marker: str, n: int) -> str:
    """User turn `n` of a conversation; the fake answers it with `A<n> <marker>`."""
    return f"{marker} question {n} {fake_directive(reply=f'A{n} {marker}')}"


def sent_turns(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's turns as (role, text), without the CLI's own `system` entries."""
    out = []
    for message in request["body"]["messages"]:
        if message["role"] == "system":
            continue
        content = message["content"]
        if isinstance(content, list):
            content = "\n".join(b["text"] for b in content if b.get("type") == "text")
        out.append((message["role"], content))
    return out


def expected(messages: list[Message]) -> list[tuple[str, str]]:
    """The turns the upstream must get. `--system-prompt-mode user` (the default): the
    system text opens the first user turn as an instructions block."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [(m["role"], m["content"]) for m in messages if m["role"] != "system"]
    if system:
        role, text = turns[0]
        turns[0] = (role, f"<instructions>\n{system}\n</instructions>\n\n{text}")
    return turns


def last_request(upstream: FakeAnthropic, marker: str) -> dict[str, Any]:
    requests = upstream_requests(upstream, marker)
    assert requests, "nothing reached the upstream"
    return requests[-1]


def chat(url: str, messages: list[Message], key: str = "sk-anything") -> str:
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "claude-opus-4", "messages": messages},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def three_turn_history(marker: str) -> list[Message]:
    return [
        {"role": "system", "content": "Be brief."},
        user(said(marker, 1)),
        assistant(f"A1 {marker}"),
        user(said(marker, 2)),
        assistant(f"A2 {marker}"),
        user(said(marker, 3)),
    ]


def assert_real_turns(upstream: FakeAnthropic, marker: str, messages: list[Message]) -> None:
    turns = sent_turns(last_request(upstream, marker))
    assert turns == expected(messages)
    assert [role for role, _ in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"]


@pytest.fixture(scope="module")
def live(base_settings: Settings) -> Iterator[RunningProxy]:
    """A proxy that keeps a process for its conversation's next turn."""
    with serve(replace(base_settings, session_idle=30)) as running:
        yield running


def test_three_turn_history_sent_cold_arrives_as_real_turns(
    proxy: RunningProxy, upstream: FakeAnthropic, marker: str
) -> None:
    messages = three_turn_history(marker)
    assert chat(proxy.url, messages) == f"A3 {marker}"
    assert_real_turns(upstream, marker, messages)
    request = last_request(upstream, marker)
    assert "Be brief." not in str(request["body"]["system"])  # it is in the first user turn


def test_three_turn_history_after_kill_9_and_a_restart(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp_path: Path, marker: str
) -> None:
    first = [user(said(marker, 1))]
    with proxy_process(claude_bin, upstream, cli_home, tmp_path, "--session-idle", "30") as p:
        answer = chat(p.url, first)
        p.popen.kill()  # the live process that held the conversation goes with it
        p.popen.wait(30)
    messages = [*first, assistant(answer), user(said(marker, 2))]
    with proxy_process(claude_bin, upstream, cli_home, tmp_path) as p:
        assert chat(p.url, messages) == f"A2 {marker}"
    assert_real_turns(upstream, marker, messages)


def test_an_edited_history_never_inherits_the_other_branch(
    live: RunningProxy, upstream: FakeAnthropic, marker: str
) -> None:
    assert live.state is not None
    sessions = live.state.bridge.sessions
    trunk = [user(said(marker, 1))]
    trunk.append(assistant(chat(live.url, trunk)))
    trunk.append(user(said(marker, 2)))
    trunk.append(assistant(chat(live.url, trunk)))  # the live process continued
    hits = sessions.hits
    # Branch at turn 2: same first exchange, another question; the process holding the
    # trunk's second exchange must not answer it.
    branch = [*trunk[:2], user(f"{marker} other question {fake_directive(reply='B2')}")]
    assert chat(live.url, branch) == "B2"
    assert sessions.hits == hits
    assert sent_turns(last_request(upstream, marker)) == expected(branch)
    # An edited assistant answer is another branch too.
    edited = [*trunk[:3], assistant("A2 edited"), user(said(marker, 3))]
    chat(live.url, edited)
    assert sessions.hits == hits
    assert sent_turns(last_request(upstream, marker)) == expected(edited)


@pytest.fixture(scope="module")
def keyed(base_settings: Settings) -> Iterator[RunningProxy]:
    settings = replace(base_settings, session_idle=30, api_keys=("sk-key-one", "sk-key-two"))
    with serve(settings) as running:
        yield running


def test_two_api_keys_with_identical_histories_never_share_a_process(
    keyed: RunningProxy, upstream: FakeAnthropic, marker: str
) -> None:
    assert keyed.state is not None
    sessions = keyed.state.bridge.sessions
    first = [user(said(marker, 1))]
    answer = chat(keyed.url, first, key="sk-key-one")
    messages = [*first, assistant(answer), user(said(marker, 2))]
    hits = sessions.hits
    assert chat(keyed.url, messages, key="sk-key-two") == f"A2 {marker}"
    assert sessions.hits == hits  # key two got a process of its own
    assert_real_turns(upstream, marker, messages)
    assert chat(keyed.url, messages, key="sk-key-one") == f"A2 {marker}"
    assert sessions.hits == hits + 1  # key one's own process was still there


def five_turns(client_for_turn: Any, upstream: FakeAnthropic, marker: str) -> list[tuple[str, str]]:
    """Run a 5-turn conversation, client by client; check every request's turns."""
    messages: list[Message] = [{"role": "system", "content": "Be brief."}]
    for n in range(1, 6):
        messages.append(user(said(marker, n)))
        client: openai.OpenAI = client_for_turn(n)
        completion = client.chat.completions.create(model="claude-opus-4", messages=messages)  # type: ignore[arg-type]
        messages.append(assistant(completion.choices[0].message.content or ""))
        assert messages[-1]["content"] == f"A{n} {marker}"
        assert_real_turns(upstream, marker, messages[:-1])
    return sent_turns(last_request(upstream, marker))


def sdk(url: str, contract: Contract) -> openai.OpenAI:
    http = httpx.Client(timeout=60, event_hooks={"response": [contract.hook]})
    return openai.OpenAI(
        base_url=f"{url}/v1", api_key="sk-anything", max_retries=0, http_client=http
    )


def test_five_turns_through_the_sdk_served_live(
    live: RunningProxy, upstream: FakeAnthropic, contract: Contract, marker: str
) -> None:
    assert live.state is not None
    hits = live.state.bridge.sessions.hits
    client = sdk(live.url, contract)
    assert len(five_turns(lambda n: client, upstream, marker)) == 9
    assert live.state.bridge.sessions.hits == hits + 4  # turns 2-5 by the live process


def test_five_turns_through_the_sdk_served_fresh(
    proxy: RunningProxy, upstream: FakeAnthropic, contract: Contract, marker: str
) -> None:
    client = sdk(proxy.url, contract)  # session_idle=0: every turn a fresh process
    assert len(five_turns(lambda n: client, upstream, marker)) == 9


def test_five_turns_through_the_sdk_with_kill_9_between(
    claude_bin: str,
    upstream: FakeAnthropic,
    cli_home: Path,
    tmp_path: Path,
    contract: Contract,
    marker: str,
) -> None:
    """Each turn to a new proxy process; the one before is killed with SIGKILL (no lifespan:
    its live process dies with it, by the orphan guard)."""
    with contextlib.ExitStack() as stack:
        current: list[ProxyProcess] = []

        def client_for_turn(n: int) -> openai.OpenAI:
            if current:
                current.pop().popen.kill()
            started = proxy_process(
                claude_bin, upstream, cli_home, tmp_path, "--session-idle", "30"
            )
            current.append(stack.enter_context(started))
            return sdk(current[0].url, contract)

        assert len(five_turns(client_for_turn, upstream, marker)) == 9


def leftovers(config: Path, runtime_dir: Path, marker: str) -> list[Path]:
    """Projects folders of this proxy's run directories, and any file naming `marker`."""
    projects = config / "projects"
    if not projects.exists():
        return []
    prefix = project_slug(os.path.realpath(runtime_dir))
    out = [p for p in projects.iterdir() if p.name.startswith(prefix)]
    out += [p for p in projects.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    return out


def test_nothing_is_left_behind_after_turns_including_a_failing_one(
    proxy: RunningProxy, upstream: FakeAnthropic, cli_home: Path, marker: str
) -> None:
    config = cli_home / ".claude"
    messages = three_turn_history(marker)
    chat(proxy.url, messages)
    failing = [*messages[:-1], user(f"{marker} {fake_directive(status=500)}")]
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "claude-opus-4", "messages": failing},
        timeout=60,
    )
    assert response.status_code >= 500
    assert upstream_requests(upstream, marker)[-1]["status"] == 500
    assert leftovers(config, proxy.settings.runtime_dir, marker) == []


def test_conversation_ids_keep_a_live_process_per_conversation(
    live: RunningProxy, upstream: FakeAnthropic, marker: str
) -> None:
    """Two conversations of one client with an identical first exchange: by history alone
    they are one (the second parked process replaces the first); with their ids (header or
    `metadata.conversation_id`) each keeps its own process for its next turn."""
    assert live.state is not None
    sessions = live.state.bridge.sessions

    def ask(messages: list[Message], conversation: str) -> str:
        ident = f"{marker}-{conversation}"
        body: dict[str, Any] = {"model": "claude-opus-4", "messages": messages}
        headers = {}
        if conversation == "one":
            headers["X-Conversation-Id"] = ident
        else:
            body["metadata"] = {"conversation_id": ident}
        response = httpx.post(
            f"{live.url}/v1/chat/completions", json=body, headers=headers, timeout=60
        )
        assert response.status_code == 200, response.text
        return str(response.json()["choices"][0]["message"]["content"])

    first = [user(said(marker, 1))]
    answers = {name: ask(first, name) for name in ("one", "two")}
    assert len(sessions.pids()) >= 2
    hits = sessions.hits
    for name, answer in answers.items():
        ask([*first, assistant(answer), user(f"{name} {said(marker, 2)}")], name)
    assert sessions.hits == hits + 2


def test_kill_9_mid_turn_leaves_no_transcript(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp_path: Path, marker: str
) -> None:
    """The transcript leaves the disk as soon as the CLI has loaded it (its first line), so a
    proxy killed while the upstream still streams leaves no copy of the conversation."""
    stalled = [*three_turn_history(marker)[:-1], user(f"{marker} {fake_directive(hang=True)}")]
    with (
        proxy_process(claude_bin, upstream, cli_home, tmp_path) as p,
        ThreadPoolExecutor(1) as pool,
    ):
        pending = pool.submit(
            httpx.post,
            f"{p.url}/v1/chat/completions",
            json={"model": "claude-opus-4", "messages": stalled, "stream": True},
            timeout=60,
        )
        wait_for(lambda: upstream_requests(upstream, marker))
        wait_for(lambda: not leftovers(cli_home / ".claude", tmp_path, marker), timeout=5)
        p.popen.kill()
        with contextlib.suppress(httpx.HTTPError):
            pending.result()
    assert leftovers(cli_home / ".claude", tmp_path, marker) == []


def test_a_fixed_workdir_shares_its_projects_folder_and_keeps_what_is_not_ours(
    base_settings: Settings,
    upstream: FakeAnthropic,
    cli_home: Path,
    tmp_path: Path,
    marker: str,
) -> None:
    """With `--workdir` every run (and the operator's own sessions there) uses one projects
    folder: concurrent history requests do not collide, and only the proxy's files go."""
    workdir = tmp_path / "operator-dir"
    workdir.mkdir()
    folder = projects_dir(cli_home / ".claude", os.path.realpath(workdir))
    folder.mkdir(parents=True)
    theirs = folder / "operator-session.jsonl"
    theirs.write_text("{}\n")
    with serve(replace(base_settings, workdir=workdir)) as running:
        conversations = [
            [user(f"{marker} {n}"), assistant(f"a{n}"), user(said(f"{marker} {n}", 2))]
            for n in range(3)
        ]
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda m: chat(running.url, m), conversations))
    for n, (messages, answer) in enumerate(zip(conversations, answers, strict=True)):
        assert answer == f"A2 {marker} {n}"
        assert sent_turns(upstream_requests(upstream, f"{marker} {n}")[-1]) == expected(messages)
    assert sorted(p.name for p in folder.iterdir()) == [theirs.name]
