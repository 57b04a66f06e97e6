"""Bridge configuration: read once by the server, passed down, never looked up globally."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    claude_bin: str = "claude"
    # Where per-run working and temp directories are made; cleaned by the bridge.
    runtime_dir: Path = field(default_factory=lambda: Path("/tmp/claude-max-api"))
    request_timeout: float = 900.0  # agentic turns can take 10+ minutes
    kill_grace: float = 2.0  # SIGTERM -> SIGKILL
    stall_timeout: float = 0.0  # no CLI output for this long -> 504; 0 disables
    debug: bool = False
    # Claude Code's own tools: "" means none (the default); operators opt in explicitly.
    tools: str = ""
    # A fixed working directory for the CLI (operator opt-in); None means an empty one per run.
    workdir: Path | None = None
    # Extra environment for the CLI (e.g. CLAUDE_CODE_MAX_RETRIES) set by the server.
    extra_env: dict[str, str] = field(default_factory=dict)
