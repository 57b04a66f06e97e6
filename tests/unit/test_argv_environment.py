"""The CLI command line and the CLI child's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.environment import DEFAULTS, DROPPED, child_env


def flag_value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, flag
    return argv[argv.index(flag) + 1]


def test_build_argv_defaults():
    argv = build_argv("/opt/claude", "claude-opus-5-5")
    assert argv[0] == "/opt/claude"
    assert argv[1] == "-p"
    assert flag_value(argv, "--input-format") == "stream-json"
    assert flag_value(argv, "--output-format") == "stream-json"
    assert "--verbose" in argv
    assert "--include-partial-messages" in argv
    assert flag_value(argv, "--model") == "claude-opus-5-5"
    assert flag_value(argv, "--tools") == ""  # no Claude Code tools unless opted in
    assert flag_value(argv, "--setting-sources") == ""
    assert "--strict-mcp-config" in argv
    assert "--no-session-persistence" in argv
    assert "--system-prompt-file" not in argv
    assert "--system-prompt" not in argv
    assert all(isinstance(a, str) for a in argv)


def test_build_argv_exact():
    assert build_argv("claude", "opus") == [
        "claude",
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--model",
        "opus",
        "--tools",
        "",
        "--setting-sources",
        "",
        "--strict-mcp-config",
        "--no-session-persistence",
    ]


def test_build_argv_system_prompt_file_and_tools(tmp_path: Path):
    path = tmp_path / "system prompt.txt"
    argv = build_argv("claude", "sonnet", tools="Read,Grep", system_prompt_file=path)
    assert flag_value(argv, "--system-prompt-file") == str(path)
    assert flag_value(argv, "--tools") == "Read,Grep"
    assert argv[-2:] == ["--system-prompt-file", str(path)]


def test_build_argv_has_no_prompt_positional():
    # Prompts travel on stdin; the only values after flags are flag arguments.
    argv = build_argv("claude", "opus")
    takes_value = {"--input-format", "--output-format", "--model", "--tools", "--setting-sources"}
    i = 1
    while i < len(argv):
        assert argv[i].startswith("-"), argv[i]
        i += 2 if argv[i] in takes_value else 1


@pytest.mark.parametrize("model", ["-x", "--tools", "--dangerously-skip-permissions", "-"])
def test_build_argv_refuses_flag_like_models(model):
    with pytest.raises(ValueError):
        build_argv("claude", model)


# --- environment ----------------------------------------------------------------------------


PARENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "ANTHROPIC_API_KEY": "sk-x",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
    "CLAUDE_CONFIG_DIR": "/cfg",
    "CLAUDECODE": "1",
    "CLAUDE_CODE_ENTRYPOINT": "cli",
    "CLAUDE_CODE_SSE_PORT": "1234",
    "CLAUDE_AGENT_SDK_VERSION": "0.1",
    "CLAUDE_CODE_SESSION_ID": "s",
    "CLAUDE_CODE_EXECPATH": "/x",
    "MCP_CONNECTION_NONBLOCKING": "1",
    "TMPDIR": "/tmp/parent",
}


def test_child_env_drops_nested_cli_markers():
    env = child_env(PARENT, {}, tmpdir="/run/tmp")
    for key in ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", *DROPPED):
        assert key not in env
    assert {"CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"} <= DROPPED


def test_child_env_keeps_the_rest():
    env = child_env(PARENT, {})
    for key in ("PATH", "HOME", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"):
        assert env[key] == PARENT[key]
    assert env["TMPDIR"] == "/tmp/parent"  # no tmpdir given: the parent's stays


def test_child_env_sets_tmpdir():
    assert child_env(PARENT, {}, tmpdir="/run/tmp")["TMPDIR"] == "/run/tmp"
    assert child_env(PARENT, {"TMPDIR": "/extra"}, tmpdir="/run/tmp")["TMPDIR"] == "/run/tmp"


def test_child_env_defaults_only_when_absent():
    env = child_env({}, {})
    assert env == DEFAULTS
    assert env["DISABLE_AUTOUPDATER"] == "1"
    assert env["DISABLE_TELEMETRY"] == "1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    env = child_env({"DISABLE_AUTOUPDATER": "0", "DISABLE_TELEMETRY": ""}, {})
    assert env["DISABLE_AUTOUPDATER"] == "0"
    assert env["DISABLE_TELEMETRY"] == ""
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"


def test_child_env_extra_wins():
    env = child_env(
        PARENT,
        {
            "ANTHROPIC_BASE_URL": "http://fake",
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_TELEMETRY": "0",
        },
    )
    assert env["ANTHROPIC_BASE_URL"] == "http://fake"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert env["DISABLE_TELEMETRY"] == "0"
    assert env["ANTHROPIC_API_KEY"] == "sk-x"


def test_child_env_does_not_mutate_inputs():
    parent = dict(PARENT)
    extra = {"A": "1"}
    child_env(parent, extra, tmpdir="/t")
    assert parent == PARENT
    assert extra == {"A": "1"}


def test_resume_forks_the_proxys_transcript_and_writes_nothing():
    argv = build_argv("claude", "opus", resume="0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
    assert argv[-3:] == ["--resume", "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b", "--fork-session"]
    assert "--no-session-persistence" in argv
    assert "--resume" not in build_argv("claude", "opus")
    with pytest.raises(ValueError):
        build_argv("claude", "opus", resume="--dangerously-skip-permissions")
