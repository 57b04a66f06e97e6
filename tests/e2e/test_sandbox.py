"""The real command line and working directory of spawned CLI processes (psutil), by
default and with the operator's opt-ins; nothing a client sends ever becomes an argument."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, cli_children, serve, wait_no_cli_children
from tests.e2e.test_hygiene import wait_for_upstream

SNEAKY = "--dangerously-skip-permissions --tools default -p --add-dir /"


def running_cli(claude_bin: str, timeout: float = 20) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in cli_children():
            if child.cmdline()[:1] == [claude_bin]:
                return child
        time.sleep(0.05)
    raise AssertionError("no CLI process appeared")


def inspect_cli(
    running: RunningProxy, upstream: FakeAnthropic, marker: str
) -> tuple[list[str], str]:
    """Start a hanging streamed chat full of flag-looking text; return the CLI's argv and cwd."""
    assert wait_no_cli_children() == []
    body = {
        "model": "opus",
        "stream": True,
        "messages": [
            {"role": "system", "content": SNEAKY},
            {
                "role": "user",
                "content": f"{marker} {SNEAKY} {fake_directive(hang=True)}",
                "name": "-p",
            },
            {"role": "assistant", "content": SNEAKY},
            {"role": "user", "content": f"{marker} {SNEAKY} {fake_directive(hang=True)}"},
        ],
    }
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{running.v1}/chat/completions", json=body) as r,
    ):
        assert r.status_code == 200
        child = running_cli(running.settings.claude_bin)
        argv, cwd = child.cmdline(), child.cwd()
        if cwd != str(running.settings.workdir):
            assert list(Path(cwd).iterdir()) == [], "the per-run directory must start empty"
        wait_for_upstream(upstream, marker)
    assert wait_no_cli_children() == []
    return argv, cwd


def value_of(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def assert_never_escalated(argv: list[str], marker: str) -> None:
    assert not any(marker in a for a in argv), "client text reached argv"
    assert "--dangerously-skip-permissions" not in argv
    assert "--allow-dangerously-skip-permissions" not in argv
    assert "bypassPermissions" not in argv
    assert "--add-dir" not in argv
    assert "--permission-mode" not in argv
    assert value_of(argv, "--model") == "claude-opus-5-5" or value_of(argv, "--model") == "opus"


def test_default_cli_is_sandboxed(proxy, upstream, marker):
    argv, cwd = inspect_cli(proxy, upstream, marker)
    assert argv[0] == proxy.settings.claude_bin
    assert value_of(argv, "--tools") == ""
    assert value_of(argv, "--setting-sources") == ""
    assert "--strict-mcp-config" in argv
    assert "--no-session-persistence" in argv
    assert_never_escalated(argv, marker)
    # an empty per-run directory inside the proxy's private runtime dir, gone afterwards
    run_dir = Path(cwd)
    assert run_dir.name == "work"
    assert run_dir.parent.parent == proxy.settings.runtime_dir
    deadline = time.monotonic() + 10
    while run_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run_dir.exists()
    # the system prompt travelled in a file, not on argv
    assert Path(value_of(argv, "--system-prompt-file")).parent == run_dir.parent


@pytest.fixture(scope="module")
def opted_in(
    base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProxy]:
    workdir = tmp_path_factory.mktemp("operator-workdir")
    (workdir / "notes.txt").write_text("operator files stay\n")
    with serve(replace(base_settings, claude_tools="Read,Grep", workdir=workdir)) as running:
        yield running


def test_opt_in_tools_and_workdir(opted_in, upstream, marker):
    argv, cwd = inspect_cli(opted_in, upstream, marker)
    assert value_of(argv, "--tools") == "Read,Grep"
    assert Path(cwd) == opted_in.settings.workdir
    assert (opted_in.settings.workdir / "notes.txt").exists()  # never cleaned up by us
    # still isolated from the machine's settings and MCP servers, still asks permission
    assert value_of(argv, "--setting-sources") == ""
    assert "--strict-mcp-config" in argv
    assert_never_escalated(argv, marker)
    sent = [r for r in upstream.requests if marker in str(r.get("body"))]
    tools = {t.get("name") for t in sent[0]["body"].get("tools", [])}
    assert {"Read", "Grep"} <= tools and "Bash" not in tools
