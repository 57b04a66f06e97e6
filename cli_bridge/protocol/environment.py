"""The CLI child's environment: the proxy's own, minus what makes a nested CLI misbehave."""

from __future__ import annotations

from collections.abc import Mapping

# Set when the proxy itself runs inside Claude Code; a nested CLI would think it is a sub-agent.
DROPPED = frozenset(
    {
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CLAUDE_AGENT_SDK_VERSION",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_CODE_EXECPATH",
        "MCP_CONNECTION_NONBLOCKING",
        # The proxy's own client keys: a CLI with tools could read its environment.
        "CLAUDE_PROXY_API_KEYS",
    }
)

# Quiet, offline-friendly defaults; an operator's explicit value wins.
DEFAULTS = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # The proxy owns the retry policy (retry.py): the CLI reports an upstream error at once
    # instead of retrying for ~3 minutes.
    "CLAUDE_CODE_MAX_RETRIES": "0",
}


MAX_OUTPUT_TOKENS = "CLAUDE_CODE_MAX_OUTPUT_TOKENS"


def child_env(
    parent: Mapping[str, str],
    extra: Mapping[str, str],
    tmpdir: str | None = None,
    *,
    max_output_tokens: int | None = None,
) -> dict[str, str]:
    """Build the environment for one CLI process. `max_output_tokens` (a request's limit,
    sent upstream as `max_tokens`) wins over an operator's CLAUDE_CODE_MAX_OUTPUT_TOKENS."""
    env = {k: v for k, v in parent.items() if k not in DROPPED}
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    env.update(extra)
    if tmpdir is not None:
        env["TMPDIR"] = tmpdir
    if max_output_tokens is not None:
        env[MAX_OUTPUT_TOKENS] = str(max_output_tokens)
    return env
