"""Flags for the process engine: concurrency cap and queue, warm pool, live conversations,
upstream retries and shutdown. Each has an environment variable; values are checked here,
once (see cli_bridge/scheduler.py, pool.py, sessions.py, retry.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from cli_bridge.catalogue import Catalogue


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


FLAGS: list[tuple[str, str, str, Callable[[str], Any], str]] = [
    ("--max-concurrency", "CLAUDE_PROXY_MAX_CONCURRENCY", "0", _count,
     "CLI processes at most, warm and idle ones included (0 = from CPUs and memory)"),
    ("--max-queue", "CLAUDE_PROXY_MAX_QUEUE", "128", _count,
     "requests that may wait for a CLI process; beyond that 429"),
    ("--pool-size", "CLAUDE_PROXY_POOL_SIZE", "2", _count,
     "CLI processes kept started ahead (0 = no warm pool)"),
    ("--pool-model", "CLAUDE_PROXY_POOL_MODEL", "opus", str,
     "model the warm pool starts with before it learns from requests"),
    ("--pool-idle", "CLAUDE_PROXY_POOL_IDLE", "300", _seconds,
     "replace a warm process unused for this many seconds"),
    ("--session-idle", "CLAUDE_PROXY_SESSION_IDLE", "60", _seconds,
     "keep a CLI process this many seconds for its conversation's next turn (0 = off)"),
    ("--upstream-retries", "CLAUDE_PROXY_UPSTREAM_RETRIES", "2", _count,
     "retries of an upstream 5xx/529 before answering 503"),
    ("--rate-limit-retries", "CLAUDE_PROXY_RATE_LIMIT_RETRIES", "0", _count,
     "retries of an upstream 429 before answering 429"),
    ("--retry-backoff", "CLAUDE_PROXY_RETRY_BACKOFF", "1", _seconds,
     "first retry delay in seconds, doubled per retry"),
    ("--shutdown-timeout", "CLAUDE_PROXY_SHUTDOWN_TIMEOUT", "30", _seconds,
     "on SIGTERM/SIGINT, seconds in-flight requests may take before their CLI is killed"),
]  # fmt: skip


def add_engine_flags(p: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    for flag, var, default, kind, help_text in FLAGS:
        # A string default goes through `type` too, so a bad env value is a clean usage error.
        p.add_argument(
            flag, type=kind, default=environ.get(var, default), help=f"{help_text} [{var}]"
        )


def engine_settings(
    args: argparse.Namespace, parser: argparse.ArgumentParser, models: Mapping[str, str]
) -> dict[str, Any]:
    if args.pool_size and Catalogue(models).lookup(args.pool_model) is None:
        parser.error(f"--pool-model {args.pool_model!r} is not a known model id")
    names = [flag[2:].replace("-", "_") for flag, *_ in FLAGS]
    return {name: getattr(args, name) for name in names}
