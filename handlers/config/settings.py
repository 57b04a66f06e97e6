"""Settings: the flag table (flags.py) parsed once into one typed, checked object."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from cli_bridge import BridgeConfig
from cli_bridge.catalogue import Catalogue
from cli_bridge.engine.config import Tracer
from cli_bridge.engine.retry import RetryPolicy
from cli_bridge.engine.scheduler import default_max_concurrency
from cli_bridge.protocol.instructions import SystemPromptMode, system_slot

from . import flags

SERVE_EPILOG = "commands: `claude-max-api doctor`, `claude-max-api install-service [--dry-run]`"


# The flag table's parsed defaults: Settings() is what no flag and no variable give.
_D: dict[str, Any] = {f.field: f.value() for f in flags.FLAGS}
_BRIDGE = BridgeConfig()  # for the engine settings that are not flags


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = _D["host"]
    port: int = _D["port"]
    claude_bin: str = _D["claude_bin"]
    request_timeout: float = _D["request_timeout"]
    stall_timeout: float = _D["stall_timeout"]
    keepalive_interval: float = _D["keepalive_interval"]
    kill_grace: float = _BRIDGE.kill_grace  # not a flag: SIGTERM -> SIGKILL
    debug: bool = _D["debug"]
    log_level: str = _D["log_level"]
    models: dict[str, str] = field(default_factory=lambda: dict(_D["models"]))
    runtime_dir: Path = field(default_factory=lambda: default_runtime_dir())
    cli_env: dict[str, str] = field(default_factory=dict)  # not a flag: set by tests
    # Safety (see handlers/security.py and README "Security").
    api_keys: tuple[str, ...] = field(default=_D["api_keys"], repr=False)
    allowed_hosts: tuple[str, ...] = _D["allowed_hosts"]  # on top of the defaults
    cors_origins: tuple[str, ...] = _D["cors_origins"]
    claude_tools: str = _D["claude_tools"]  # Claude Code's built-in tools: "" = none
    workdir: Path | None = _D["workdir"]  # None = an empty one per run
    max_body_bytes: int = _D["max_body_bytes"]
    max_messages: int = _D["max_messages"]
    max_message_chars: int = _D["max_message_chars"]
    image_url_allow_private: bool = _D["image_url_allow_private"]  # SSRF guard off
    log_format: str = _D["log_format"]
    # The response store of /v1/responses (handlers/store.py).
    data_dir: Path | None = _D["data_dir"]  # None = the user data dir
    store_ttl: float = _D["store_ttl"]
    store_max_responses: int = _D["store_max_responses"]
    store_max_mb: int = _D["store_max_mb"]
    # Process engine (see README "Process engine").
    max_concurrency: int = _D["max_concurrency"]  # 0: derived from CPUs and memory
    max_queue: int = _D["max_queue"]
    pool_size: int = _D["pool_size"]
    pool_model: str = _D["pool_model"]
    pool_idle: float = _D["pool_idle"]
    session_idle: float = _D["session_idle"]
    tool_wait: float = _D["tool_wait"]
    system_prompt_mode: SystemPromptMode = _D["system_prompt_mode"]
    base_system_prompt: str = _D["base_system_prompt"]
    upstream_retries: int = _D["upstream_retries"]
    rate_limit_retries: int = _D["rate_limit_retries"]
    retry_backoff: float = _D["retry_backoff"]
    shutdown_timeout: float = _D["shutdown_timeout"]
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
            pool_system_prompt=self.pool_system_prompt,
            pool_idle=self.pool_idle,
            session_idle=self.session_idle,
            tool_wait=self.tool_wait,
            retry=RetryPolicy(
                upstream_retries=self.upstream_retries,
                rate_limit_retries=self.rate_limit_retries,
                backoff=self.retry_backoff,
            ),
            tracer=self.tracer,
        )

    @property
    def store_path(self) -> Path:
        """The response store's SQLite file."""
        folder = self.data_dir or Path(platformdirs.user_data_dir("claude-max-api"))
        return folder / "responses.sqlite3"

    @property
    def pool_system_prompt(self) -> str | None:
        """The system slot every request shares, if one: the base prompt in `user` mode."""
        return system_slot(self.system_prompt_mode, None, self.base_system_prompt).text


def default_runtime_dir() -> Path:
    """A private per-instance directory for CLI work dirs and temp files."""
    base = Path(tempfile.gettempdir()) / f"claude-max-api-{os.getuid()}"
    return base / f"proxy-{os.getpid()}"


def resolve_cli(claude_bin: str, environ: Mapping[str, str]) -> str:
    """The CLI to run: a path made absolute (the CLI runs in another cwd); a bare name on
    PATH as given; else the one beside this program (`claude-max-api-replay` in an
    unactivated venv), else as given, to be reported missing."""
    if os.sep in claude_bin:
        return os.path.abspath(claude_bin)
    if shutil.which(claude_bin, path=environ.get("PATH")):
        return claude_bin
    here = [Path(sys.argv[0]).parent] if sys.argv and Path(sys.argv[0]).is_file() else []
    for folder in [*here, Path(sys.executable).parent]:
        found = shutil.which(claude_bin, path=str(folder))
        if found:
            return os.path.abspath(found)
    return claude_bin


def settings_from_args(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    prog: str = flags.PROG,
    description: str = flags.DESCRIPTION,
    epilog: str | None = SERVE_EPILOG,
) -> Settings:
    """Settings from flags and the environment, checked: a bad value exits 2 with usage."""
    environ = os.environ if environ is None else environ
    parser = flags.build_parser(prog, description, epilog)
    args = parser.parse_args(argv)
    values = flags.read(args, environ, parser)
    if args.legacy_port is not None:  # the seed's positional port wins
        values["port"] = args.legacy_port
    if not 0 <= values["port"] <= 65535:
        parser.error(f"port must be between 0 and 65535, got {values['port']}")
    if "*" in values["cors_origins"] and not values["api_keys"]:
        parser.error("--cors-origin '*' lets every web page call the proxy: set --api-key too")
    models = values["models"]
    if values["pool_size"] and Catalogue(models).lookup(values["pool_model"]) is None:
        parser.error(f"--pool-model {values['pool_model']!r} is not a known model id")
    values["claude_bin"] = resolve_cli(values["claude_bin"], environ)
    return Settings(**values)
