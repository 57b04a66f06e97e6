"""The CLI command line. Nothing a client sent ever lands here but a catalogue-checked model
and an effort level from the fixed list below; prompts travel on stdin, system text in files."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeAlias, get_args

BASE_FLAGS = (
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
)

# `claude --help`: "--effort <level>  Effort level for the current session (low, medium, high,
# xhigh, max)".
CliEffort: TypeAlias = Literal["low", "medium", "high", "xhigh", "max"]
EFFORT_LEVELS = frozenset(get_args(CliEffort))

# No user/project settings, CLAUDE.md or MCP servers pulled in from the machine.
ISOLATION_FLAGS = ("--setting-sources", "", "--strict-mcp-config", "--no-session-persistence")


def build_argv(
    claude_bin: str,
    cli_model: str,
    *,
    tools: str = "",
    system_prompt_file: Path | None = None,
    append_system_prompt_file: Path | None = None,
    resume: str | None = None,
    effort: str | None = None,
    mcp_config: Path | None = None,
    allow_mcp_server: str | None = None,
) -> list[str]:
    """argv for one CLI process (no shell; prompts travel on stdin, system text in a file).

    `resume`: the session id of a transcript the proxy wrote (engine/resume.py). Forked, so
    the CLI writes nothing of its own (with --no-session-persistence). `effort`: one of the
    CLI's --effort levels (the upstream's `output_config.effort`). `mcp_config`: the file
    naming the proxy's MCP server for the client's tools (cli_bridge/tools);
    `allow_mcp_server`: that server's name, whose tools the CLI may call unasked (with
    --strict-mcp-config no other server exists)."""
    if cli_model.startswith("-"):
        raise ValueError(f"refusing flag-like model value {cli_model!r}")
    if tools.startswith("-"):
        raise ValueError(f"refusing flag-like tools value {tools!r}")
    argv = [claude_bin, *BASE_FLAGS, "--model", cli_model, "--tools", tools, *ISOLATION_FLAGS]
    if system_prompt_file is not None:
        argv += ["--system-prompt-file", str(system_prompt_file)]
    if append_system_prompt_file is not None:  # after Claude Code's own system prompt
        argv += ["--append-system-prompt-file", str(append_system_prompt_file)]
    if resume is not None:
        if resume.startswith("-"):
            raise ValueError(f"refusing flag-like session id {resume!r}")
        argv += ["--resume", resume, "--fork-session"]
    if effort is not None:
        if effort not in EFFORT_LEVELS:
            raise ValueError(f"refusing unknown effort level {effort!r}")
        argv += ["--effort", effort]
    if mcp_config is not None:
        argv += ["--mcp-config", str(mcp_config)]
    if allow_mcp_server is not None:
        if not allow_mcp_server.isidentifier():
            raise ValueError(f"refusing MCP server name {allow_mcp_server!r}")
        argv += ["--allowedTools", f"mcp__{allow_mcp_server}"]
    return argv
