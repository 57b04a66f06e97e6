"""Configuration: command-line flags, each with an environment variable, read once."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli_bridge import BridgeConfig
from cli_bridge.catalogue import Catalogue, parse_model_mappings
from cli_bridge.config import Tracer
from cli_bridge.retry import RetryPolicy
from cli_bridge.scheduler import default_max_concurrency

TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3456
    claude_bin: str = "claude"
    request_timeout: float = 900.0
    stall_timeout: float = 180.0
    keepalive_interval: float = 15.0
    kill_grace: float = 2.0
    debug: bool = False
    log_level: str = "info"
    models: dict[str, str] = field(default_factory=dict)
    runtime_dir: Path = field(default_factory=lambda: default_runtime_dir())
    cli_env: dict[str, str] = field(default_factory=dict)
    # Process engine (issue 4): see cli_bridge/scheduler.py, pool.py, sessions.py, retry.py.
    max_concurrency: int = 0  # 0: derived from CPU count and memory
    max_queue: int = 128
    pool_size: int = 2
    pool_model: str = "opus"
    pool_idle: float = 300.0
    session_idle: float = 60.0
    upstream_retries: int = 2
    rate_limit_retries: int = 0
    retry_backoff: float = 1.0
    shutdown_timeout: float = 30.0
    tracer: Tracer | None = field(default=None, repr=False, compare=False)  # benchmarks only

    def bridge_config(self) -> BridgeConfig:
        pool_entry = Catalogue(self.models).lookup(self.pool_model)
        return BridgeConfig(
            claude_bin=self.claude_bin,
            runtime_dir=self.runtime_dir,
            request_timeout=self.request_timeout,
            stall_timeout=self.stall_timeout,
            kill_grace=self.kill_grace,
            debug=self.debug,
            extra_env=dict(self.cli_env),
            max_concurrency=self.max_concurrency or default_max_concurrency(),
            max_queue=self.max_queue,
            pool_size=self.pool_size,
            pool_model=pool_entry.cli_model if pool_entry else None,
            pool_idle=self.pool_idle,
            session_idle=self.session_idle,
            retry=RetryPolicy(
                upstream_retries=self.upstream_retries,
                rate_limit_retries=self.rate_limit_retries,
                backoff=self.retry_backoff,
            ),
            tracer=self.tracer,
        )


def default_runtime_dir() -> Path:
    """A private per-instance directory for CLI work dirs and temp files."""
    base = Path(tempfile.gettempdir()) / f"claude-max-api-{os.getuid()}"
    return base / f"proxy-{os.getpid()}"


def _env_bool(environ: Mapping[str, str], key: str) -> bool:
    return environ.get(key, "").strip().lower() in TRUE


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    # Numeric defaults stay strings: argparse converts them with `type`, so a bad environment
    # value is a usage error (exit 2), not a ValueError traceback.
    env = environ.get
    p = argparse.ArgumentParser(
        prog="claude-max-api",
        description="OpenAI-compatible API for your Claude subscription, via the Claude Code CLI.",
    )
    p.add_argument("legacy_port", nargs="?", type=int, help=argparse.SUPPRESS)
    p.add_argument("--host", default=env("CLAUDE_PROXY_HOST", "127.0.0.1"), help="bind address")
    p.add_argument("--port", type=int, default=env("CLAUDE_PROXY_PORT", "3456"), help="listen port")
    p.add_argument("--claude-bin", default=env("CLAUDE_BIN", "claude"), help="the claude CLI")
    p.add_argument(
        "--timeout",
        type=float,
        default=env("CLAUDE_PROXY_TIMEOUT", "900"),
        help="seconds a request may take in all (default 900)",
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=env("CLAUDE_PROXY_STALL_TIMEOUT", "180"),
        help="kill the CLI after this many silent seconds (default 180; 0 = off)",
    )
    p.add_argument(
        "--keepalive",
        type=float,
        default=env("CLAUDE_PROXY_KEEPALIVE", "15"),
        help="seconds between SSE keep-alive comments while the CLI is silent",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[env("CLAUDE_PROXY_MODELS", "")],
        metavar="ID=CLI_MODEL",
        help="add or override a model id (repeatable)",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        default=_env_bool(environ, "DEBUG_SUBPROCESS"),
        help="log CLI spawns, argv, pids, exit codes and event flow",
    )
    p.add_argument("--log-level", default=env("CLAUDE_PROXY_LOG_LEVEL", "info"))
    _add_engine_flags(p, environ)
    return p


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _add_engine_flags(p: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """Process engine: concurrency, queue, warm pool, live conversations, retries, shutdown."""
    env = environ.get
    flags: list[tuple[str, str, str, Callable[[str], object], str]] = [
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
    for flag, var, default, kind, help_text in flags:
        # A string default goes through `type` too, so a bad env value is a clean usage error.
        p.add_argument(flag, type=kind, default=env(var, default), help=f"{help_text} [{var}]")


def settings_from_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    try:
        models = parse_model_mappings(args.model)
        Catalogue(models)  # refuse unusable values (e.g. `id=--tools`) now, not at app start
    except ValueError as exc:
        parser.error(str(exc))
    port = args.legacy_port if args.legacy_port is not None else args.port
    if not 0 <= port <= 65535:
        parser.error(f"port must be between 0 and 65535, got {port}")
    if args.pool_size and Catalogue(models).lookup(args.pool_model) is None:
        parser.error(f"--pool-model {args.pool_model!r} is not a known model id")
    return Settings(
        host=args.host,
        port=port,
        claude_bin=args.claude_bin,
        request_timeout=args.timeout,
        stall_timeout=args.stall_timeout,
        keepalive_interval=args.keepalive,
        debug=args.debug,
        log_level=args.log_level,
        models=models,
        max_concurrency=args.max_concurrency,
        max_queue=args.max_queue,
        pool_size=args.pool_size,
        pool_model=args.pool_model,
        pool_idle=args.pool_idle,
        session_idle=args.session_idle,
        upstream_retries=args.upstream_retries,
        rate_limit_retries=args.rate_limit_retries,
        retry_backoff=args.retry_backoff,
        shutdown_timeout=args.shutdown_timeout,
    )
