"""The flag table: every setting declared once — flag, environment variable, parser, default,
help. The argparse parser, the environment reading, `--help`, `doctor`'s settings line and
the README's Configuration table all come from it.

Regenerate the README table with `python -m handlers.config.flags --markdown` (or
`--update-readme`); tests/unit/test_readme_flags.py fails when the two differ.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli_bridge.protocol.instructions import DEFAULT_BASE_PROMPT

from . import parsers as p

PROG = "claude-max-api"
DESCRIPTION = "OpenAI-compatible API for your Claude subscription, via the Claude Code CLI."
README_HEADER = "| flag | environment | default | meaning |"


@dataclass(frozen=True, slots=True)
class Flag:
    flag: str  # "--max-queue"
    env: str  # its environment variable
    field: str  # the Settings field it sets
    parse: Callable[[str], Any]  # text -> value; ValueError is a usage error (exit 2)
    default: str  # as text, parsed like the environment variable
    help: str  # the --help line
    meaning: str = ""  # the README's longer text, when it says more than `help`
    metavar: str = ""  # shown in the README and --help, e.g. "KEY"
    repeatable: bool = False  # the flag repeats; values merge with the comma-separated env var
    switch: bool = False  # a flag without a value; the env var is on/off (`true`, `1`, …)
    shown_default: str = ""  # the README's default column when the raw default reads badly
    note: str = ""  # after the flag in the README, e.g. "(or a bare first argument)"
    secret: bool = False  # never shown (doctor shows a count)

    def value(self) -> Any:
        """The parsed default."""
        return self.parse(self.default)

    def readme_cells(self) -> tuple[str, str, str, str]:
        flag = f"`{self.flag} {self.metavar}`" if self.metavar else f"`{self.flag}`"
        flag += " (repeatable)" if self.repeatable else ""
        flag += f" {self.note}" if self.note else ""
        env = f"`{self.env}=true`" if self.switch else f"`{self.env}`"
        env += " (comma-separated)" if self.repeatable else ""
        default = self.shown_default or (f"`{self.default}`" if self.default else "–")
        return flag, env, default, self.meaning or self.help


# fmt: off
FLAGS: tuple[Flag, ...] = (
    Flag("--host", "CLAUDE_PROXY_HOST", "host", p.text, "127.0.0.1", "bind address"),
    Flag("--port", "CLAUDE_PROXY_PORT", "port", p.integer, "3456", "listen port",
         note="(or a bare first argument)"),
    Flag("--claude-bin", "CLAUDE_BIN", "claude_bin", p.text, "claude",
         "the Claude Code CLI: a path, or a name looked up on PATH, then beside this program"),
    Flag("--timeout", "CLAUDE_PROXY_TIMEOUT", "request_timeout", p.interval, "900",
         "seconds a request may take in all"),
    Flag("--stall-timeout", "CLAUDE_PROXY_STALL_TIMEOUT", "stall_timeout", p.seconds, "180",
         "kill the CLI after this many silent seconds (504); `0` = off"),
    Flag("--keepalive", "CLAUDE_PROXY_KEEPALIVE", "keepalive_interval", p.interval, "15",
         "seconds between SSE keep-alive comments while the CLI is silent"),
    Flag("--model", "CLAUDE_PROXY_MODELS", "models", p.parse_models, "",
         "add or override a model id", metavar="ID=CLI_MODEL", repeatable=True),
    Flag("--debug", "DEBUG_SUBPROCESS", "debug", p.switch, "",
         "log CLI spawns, argv, pids, exit codes and event flow", switch=True,
         shown_default="off"),
    Flag("--log-level", "CLAUDE_PROXY_LOG_LEVEL", "log_level", p.text, "info",
         "log level: `debug`, `info`, `warning`, `error`"),
    Flag("--max-concurrency", "CLAUDE_PROXY_MAX_CONCURRENCY", "max_concurrency", p.count, "0",
         "CLI processes at most, warm and idle ones included (`0` = from CPUs and memory)",
         meaning="CLI processes at most, warm and idle ones included (auto: 4 per CPU, at most "
         "half the RAM at 256 MB each)", shown_default="`0` = auto"),
    Flag("--max-queue", "CLAUDE_PROXY_MAX_QUEUE", "max_queue", p.count, "128",
         "requests that may wait for a CLI process; beyond: 429"),
    Flag("--pool-size", "CLAUDE_PROXY_POOL_SIZE", "pool_size", p.count, "2",
         "CLI processes started ahead (`0` = no warm pool)"),
    Flag("--pool-model", "CLAUDE_PROXY_POOL_MODEL", "pool_model", p.text, "opus",
         "model the pool warms before it has learnt from requests"),
    Flag("--pool-idle", "CLAUDE_PROXY_POOL_IDLE", "pool_idle", p.seconds, "300",
         "seconds before an unused warm process is replaced"),
    Flag("--session-idle", "CLAUDE_PROXY_SESSION_IDLE", "session_idle", p.seconds, "60",
         "seconds a process keeps its conversation for the next turn (`0` = off)"),
    Flag("--tool-result-timeout", "CLAUDE_PROXY_TOOL_RESULT_TIMEOUT", "tool_wait", p.seconds,
         "600", "seconds a process waits with a client tool call open for the client's result "
         "(then the call is cancelled and the process freed; a later result still works, "
         "resumed in a new process)"),
    Flag("--system-prompt-mode", "CLAUDE_PROXY_SYSTEM_PROMPT_MODE", "system_prompt_mode",
         p.parse_system_prompt_mode, "user",
         "where system/developer messages go: `user` (first user turn), `append` (after "
         "Claude Code's prompt), `replace` (as the system prompt)",
         meaning="where `system`/`developer` messages go: `user` (an `<instructions>` block "
         "opening the first user turn; the base prompt is the system prompt), `append` (after "
         "Claude Code's own system prompt), `replace` (as the system prompt); see "
         "[System prompts](#system-prompts)"),
    Flag("--base-system-prompt", "CLAUDE_PROXY_BASE_SYSTEM_PROMPT", "base_system_prompt",
         p.text, DEFAULT_BASE_PROMPT,
         "the system prompt in `user` mode (`\"\"` = Claude Code's own)", metavar="TEXT",
         shown_default="a short neutral prompt (see [System prompts](#system-prompts))"),
    Flag("--upstream-retries", "CLAUDE_PROXY_UPSTREAM_RETRIES", "upstream_retries", p.count,
         "2", "proxy retries of an upstream 5xx/529 before answering 503"),
    Flag("--rate-limit-retries", "CLAUDE_PROXY_RATE_LIMIT_RETRIES", "rate_limit_retries",
         p.count, "0", "proxy retries of an upstream 429 before answering 429"),
    Flag("--retry-backoff", "CLAUDE_PROXY_RETRY_BACKOFF", "retry_backoff", p.seconds, "1",
         "first retry delay (s), doubled per retry, ±20 % jitter"),
    Flag("--shutdown-timeout", "CLAUDE_PROXY_SHUTDOWN_TIMEOUT", "shutdown_timeout", p.seconds,
         "30", "on SIGTERM/SIGINT, seconds in-flight requests may still take"),
    Flag("--api-key", "CLAUDE_PROXY_API_KEYS", "api_keys", p.parse_api_keys, "",
         "require one of these keys on /v1/* and /metrics",
         meaning="require one of these keys (see [Security](#security)); 12–512 visible ASCII "
         "characters", metavar="KEY", repeatable=True, shown_default="none", secret=True),
    Flag("--allowed-host", "CLAUDE_PROXY_ALLOWED_HOSTS", "allowed_hosts", p.parse_hosts, "",
         "accept this `Host` name too (`*.example.com` patterns; `*` turns the check off)",
         metavar="HOST", repeatable=True),
    Flag("--cors-origin", "CLAUDE_PROXY_CORS_ORIGINS", "cors_origins", p.parse_origins, "",
         "let browser pages of this origin (scheme://host[:port]) call the proxy (`*` only "
         "together with an API key)", metavar="ORIGIN", repeatable=True,
         shown_default="none (no CORS)"),
    Flag("--enable-claude-tools", "CLAUDE_PROXY_CLAUDE_TOOLS", "claude_tools", p.parse_tools,
         "", "give Claude Code its own tools: `Read,Grep`, … or `default` (loud warning)",
         metavar="TOOLS", shown_default="none"),
    Flag("--workdir", "CLAUDE_PROXY_WORKDIR", "workdir", p.parse_workdir, "",
         "run the CLI in this existing directory (loud warning)", metavar="PATH",
         shown_default="empty dir per request"),
    Flag("--max-body-bytes", "CLAUDE_PROXY_MAX_BODY_BYTES", "max_body_bytes", p.positive,
         str(10 * 1024 * 1024), "larger request bodies get 413", metavar="N"),
    Flag("--max-messages", "CLAUDE_PROXY_MAX_MESSAGES", "max_messages", p.positive, "1000",
         "more messages get 400 `param: messages`", metavar="N"),
    Flag("--max-message-chars", "CLAUDE_PROXY_MAX_MESSAGE_CHARS", "max_message_chars",
         p.positive, "1000000", "characters per message (all its strings)", metavar="N"),
    Flag("--image-url-allow-private", "CLAUDE_PROXY_IMAGE_URL_ALLOW_PRIVATE",
         "image_url_allow_private", p.switch, "",
         "let image URLs reach loopback, private and link-local addresses (local setups)",
         meaning="fetch image URLs whose host is a loopback, private, link-local or other "
         "non-public address (off: refused, no SSRF; see [Images](#chat-behaviour))",
         switch=True, shown_default="off"),
    Flag("--data-dir", "CLAUDE_PROXY_DATA_DIR", "data_dir", p.parse_data_dir, "",
         "directory of the response store (`/v1/responses`), created when needed",
         metavar="PATH", shown_default="the user data dir (`platformdirs`)",
         meaning="directory of the response store of `/v1/responses` (`responses.sqlite3`, "
         "mode 0600), created when needed"),
    Flag("--store-ttl", "CLAUDE_PROXY_STORE_TTL", "store_ttl", p.seconds, "2592000",
         "seconds a stored response is kept (`previous_response_id`, GET)",
         shown_default="`2592000` (30 days)"),
    Flag("--store-max-responses", "CLAUDE_PROXY_STORE_MAX_RESPONSES", "store_max_responses",
         p.positive, "10000", "stored responses at most (the oldest go first)", metavar="N"),
    Flag("--store-max-mb", "CLAUDE_PROXY_STORE_MAX_MB", "store_max_mb", p.positive, "200",
         "megabytes of stored responses at most (the oldest go first)", metavar="N"),
    Flag("--log-format", "CLAUDE_PROXY_LOG_FORMAT", "log_format", p.parse_log_format, "text",
         "`text`, or `json`: one JSON object per line"),
)
# fmt: on
BY_FIELD: dict[str, Flag] = {f.field: f for f in FLAGS}
_METAVARS: dict[Callable[[str], Any], str] = {p.count: "N", p.seconds: "SECONDS"}


def default(field: str) -> Any:
    """The table's parsed default for a Settings field."""
    return BY_FIELD[field].value()


def build_parser(
    prog: str = PROG, description: str = DESCRIPTION, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The parser: values stay raw text (None when absent), so `read` can tell a flag from
    the environment and parse both the same way."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    parser.add_argument("legacy_port", nargs="?", type=int, help=argparse.SUPPRESS)
    for f in FLAGS:
        shown = f.shown_default or f.default or "none"
        help_text = f"{f.help} [{f.env}; default {shown}]".replace("`", "").replace("%", "%%")
        if f.switch:
            parser.add_argument(f.flag, dest=f.field, action="store_true", default=None,
                                help=help_text)  # fmt: skip
            continue
        parser.add_argument(
            f.flag,
            dest=f.field,
            action="append" if f.repeatable else "store",
            default=None,
            metavar=f.metavar or _METAVARS.get(f.parse) or f.flag[2:].upper().replace("-", "_"),
            help=help_text + (" (repeatable)" if f.repeatable else ""),
        )
    return parser


def read(
    args: argparse.Namespace, environ: Mapping[str, str], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    """Settings fields from parsed flags and the environment: a flag beats its variable, a
    repeated flag adds to it; a bad value from either is a usage error (exit 2)."""
    out: dict[str, Any] = {}
    for f in FLAGS:
        given = getattr(args, f.field)
        from_env = f.env in environ and (given is None or f.repeatable)
        raw = environ.get(f.env, f.default)
        if f.switch:
            out[f.field] = True if given else f.parse(raw)
            continue
        if f.repeatable:
            raw = ",".join([raw, *(given or [])])
        elif given is not None:
            raw = given
        try:
            out[f.field] = f.parse(raw)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            where = f"{f.flag} (from {f.env})" if from_env else f.flag
            parser.error(f"argument {where}: {exc}")
    return out


def shown(f: Flag, value: Any) -> str:
    """A value as doctor prints it; secrets as a count."""
    if f.secret:
        return f"{len(value)} set"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def changed(values: Mapping[str, Any]) -> list[str]:
    """`--flag value` for each setting that differs from the table's default."""
    return [f"{f.flag} {shown(f, values[f.field])}" for f in FLAGS if values[f.field] != f.value()]


def markdown() -> str:
    """The README's Configuration table."""
    rows = [README_HEADER, "|---|---|---|---|"]
    rows += ["| " + " | ".join(f.readme_cells()) + " |" for f in FLAGS]
    return "\n".join(rows)


def readme_table(readme: str) -> tuple[int, int]:
    """Line span [start, end) of the Configuration table in the README's text."""
    lines = readme.splitlines()
    start = lines.index(README_HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def update_readme(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    start, end = readme_table("\n".join(lines))
    lines[start:end] = markdown().splitlines()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--markdown"]:
        print(markdown())
        return 0
    if list(argv) == ["--update-readme"]:
        update_readme(Path(__file__).resolve().parents[2] / "README.md")
        return 0
    print("usage: python -m handlers.config.flags --markdown | --update-readme", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
