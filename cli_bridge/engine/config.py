"""Bridge configuration: read once by the server, passed down, never looked up globally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .retry import RetryPolicy
from .scheduler import default_max_concurrency

# Observer for benchmarks and tracing: (what, pid, stdout line). `what` is "spawn" (about to
# start a CLI), "tools" (pid has listed the client's tools), "write" (a user turn was written
# to pid's stdin) or "line" (pid printed a line).
Tracer = Callable[[str, int, bytes | None], None]


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    claude_bin: str = "claude"
    # Where per-run working and temp directories are made; cleaned by the bridge.
    runtime_dir: Path = field(default_factory=lambda: Path("/tmp/claude-max-api"))
    request_timeout: float = 900.0  # agentic turns can take 10+ minutes
    kill_grace: float = 2.0  # SIGTERM -> SIGKILL
    stall_timeout: float = 180.0  # no CLI output for this long -> 504; 0 disables
    debug: bool = False
    # Claude Code's own tools: "" means none (the default); operators opt in explicitly.
    tools: str = ""
    # A fixed working directory for the CLI (operator opt-in); None means an empty one per run.
    workdir: Path | None = None
    # Extra environment for the CLI (e.g. CLAUDE_CODE_MAX_RETRIES) set by the server.
    extra_env: dict[str, str] = field(default_factory=dict)
    # Process engine (scheduler.py, pool.py, parked.py, retry.py). The defaults equal the
    # proxy's flag table (handlers/config/flags.py; tests/unit/test_flags.py checks).
    max_concurrency: int = field(default_factory=default_max_concurrency)  # every kind
    max_queue: int = 128  # requests waiting for a process; beyond: 429
    pool_size: int = 2  # warm processes; 0 disables the pool
    pool_model: str | None = "opus"  # CLI model the pool starts with before it learns
    # The system slot of those first warm processes: the base prompt in `user` mode (the
    # same for every request), None (Claude Code's own) otherwise.
    pool_system_prompt: str | None = None
    pool_idle: float = 300.0  # a warm process is replaced after this long unused
    session_idle: float = 60.0  # a process keeps its conversation this long; 0 disables
    # A process whose answer ended at client tool calls waits this long for the results.
    tool_wait: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    orphan_sentinel: bool = True  # out-of-process safety net, see reaper.py
    tracer: Tracer | None = None
