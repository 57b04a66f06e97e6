"""Flags for the safety and operations features: API keys, network guards, the Claude Code
sandbox opt-ins, input limits and log format. Each has an environment variable; values are
checked here, once, so the rest of the proxy can trust them."""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Header-safe key text: visible ASCII, no separators we split on.
_KEY = re.compile(r"^[\x21-\x7e]{12,512}$")
_TOOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_HOST = re.compile(r"^(\*|\*\.)?[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?$")
LOG_FORMATS = ("text", "json")


def split_list(items: Iterable[str]) -> tuple[str, ...]:
    """`["a,b", "c"]` (flags and a comma-separated env var) -> ("a", "b", "c"), de-duplicated."""
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def parse_api_keys(items: Iterable[str]) -> tuple[str, ...]:
    keys = split_list(items)
    for n, key in enumerate(keys, 1):
        if not _KEY.match(key):  # never echo the key itself
            raise ValueError(
                f"API key #{n} is unusable: use 12-512 visible ASCII characters, "
                "no spaces or commas"
            )
    return keys


def parse_tools(value: str) -> str:
    """--enable-claude-tools: "" (none), "default", or tool names such as "Read,Grep"."""
    names = split_list(value.replace(" ", ",").split(","))
    if not names:
        return ""
    if names == ("default",):
        return "default"
    bad = [n for n in names if not _TOOL.match(n)]
    if bad:
        raise ValueError(f"invalid Claude Code tool name(s): {', '.join(map(repr, bad))}")
    return ",".join(names)


def parse_host(value: str) -> str:
    """An allowed Host name: a DNS name, `*.example.com`, an IP literal, or `*` (any)."""
    host = value.strip().lower()
    if host == "*":
        return host
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        if not _HOST.match(host):
            raise ValueError(f"invalid allowed host {value!r} (give a name without port)") from None
        return host
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def parse_origin(value: str) -> str:
    """A CORS origin: `*` or `scheme://host[:port]`, nothing else."""
    origin = value.strip().rstrip("/").lower()
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"invalid CORS origin {value!r}: use scheme://host[:port]")
    return origin


def parse_workdir(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"--workdir {value!r} is not an existing directory")
    return path


def add_safety_flags(p: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    env = environ.get
    p.add_argument(
        "--api-key",
        action="append",
        default=[env("CLAUDE_PROXY_API_KEYS", "")],
        metavar="KEY",
        help="require this key on /v1/* and /metrics (repeatable)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[env("CLAUDE_PROXY_ALLOWED_HOSTS", "")],
        metavar="HOST",
        help="accept this Host header too (repeatable; `*` turns the check off)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[env("CLAUDE_PROXY_CORS_ORIGINS", "")],
        metavar="ORIGIN",
        help="allow browser pages of this origin (scheme://host[:port]; repeatable)",
    )
    p.add_argument(
        "--enable-claude-tools",
        default=env("CLAUDE_PROXY_CLAUDE_TOOLS", ""),
        metavar="TOOLS",
        help='let Claude Code use its own tools, e.g. "Read,Grep" or "default" (off by default)',
    )
    p.add_argument(
        "--workdir",
        default=env("CLAUDE_PROXY_WORKDIR", ""),
        metavar="PATH",
        help="run the CLI in this directory instead of an empty one per request",
    )
    for flag, var, default, what in (
        ("--max-body-bytes", "CLAUDE_PROXY_MAX_BODY_BYTES", 10 * 1024 * 1024, "request body"),
        ("--max-messages", "CLAUDE_PROXY_MAX_MESSAGES", 1000, "messages per request"),
        ("--max-message-chars", "CLAUDE_PROXY_MAX_MESSAGE_CHARS", 1_000_000, "chars per message"),
    ):
        p.add_argument(flag, type=int, default=env(var, str(default)), help=f"max {what}")
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=env("CLAUDE_PROXY_LOG_FORMAT", "text"),
        help="text (default) or json, one object per line",
    )


def safety_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The Settings fields for the flags above; a bad value is a usage error (exit 2)."""
    try:
        keys = parse_api_keys(args.api_key)
        origins = tuple(parse_origin(o) for o in split_list(args.cors_origin))
        hosts = tuple(parse_host(h) for h in split_list(args.allowed_host))
        tools = parse_tools(args.enable_claude_tools)
        workdir = parse_workdir(args.workdir)
    except ValueError as exc:
        parser.error(str(exc))
    if "*" in origins and not keys:
        parser.error("--cors-origin '*' lets every web page call the proxy: set --api-key too")
    for flag, value in (
        ("--max-body-bytes", args.max_body_bytes),
        ("--max-messages", args.max_messages),
        ("--max-message-chars", args.max_message_chars),
    ):
        if value < 1:
            parser.error(f"{flag} must be positive")
    if args.log_format not in LOG_FORMATS:
        parser.error(f"--log-format must be one of {', '.join(LOG_FORMATS)}")
    return {
        "api_keys": keys,
        "allowed_hosts": hosts,
        "cors_origins": origins,
        "claude_tools": tools,
        "workdir": workdir,
        "max_body_bytes": args.max_body_bytes,
        "max_messages": args.max_messages,
        "max_message_chars": args.max_message_chars,
        "log_format": args.log_format,
    }
