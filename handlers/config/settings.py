"""Configuration: command-line flags, each with an environment variable, read once."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli_bridge import BridgeConfig
from cli_bridge.catalogue import Catalogue, parse_model_mappings
from cli_bridge.engine.config import Tracer
from cli_bridge.engine.retry import RetryPolicy
from cli_bridge.engine.scheduler import default_max_concurrency

from .engine_options import add_engine_flags, engine_settings
from .safety_options import add_safety_flags, safety_settings

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
    # Safety (see handlers/security.py and README "Security").
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    allowed_hosts: tuple[str, ...] = ()  # extra Host names on top of the defaults
    cors_origins: tuple[str, ...] = ()
    claude_tools: str = ""  # Claude Code's built-in tools: "" = none
    workdir: Path | None = None  # fixed CLI working directory; None = empty one per run
    max_body_bytes: int = 10 * 1024 * 1024
    max_messages: int = 1000
    max_message_chars: int = 1_000_000
    log_format: str = "text"
    # Process engine (see handlers/engine_options.py and README "Process engine").
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
            tools=self.claude_tools,
            workdir=self.workdir,
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
        epilog="commands: `claude-max-api doctor`, `claude-max-api install-service [--dry-run]`",
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
    add_safety_flags(p, environ)
    add_engine_flags(p, environ)
    return p


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
        **safety_settings(args, parser),
        **engine_settings(args, parser, models),
    )
