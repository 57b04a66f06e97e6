"""Recorded CLI runs: one JSON file per scenario, written by `conformance/record.py`.

A transcript holds what one real `claude` process did for one proxy-shaped request: its argv,
stdin, stdout events (one per line, ids and paths normalised), stderr, exit code and the CLI
version. The replay CLI plays them back; the files ship inside the wheel so it works anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUFFIX = ".json"


@dataclass(slots=True)
class Transcript:
    name: str
    description: str
    cli_version: str
    argv: list[str]
    env: dict[str, str]
    stdin: list[dict[str, Any]]
    system_prompt: str | None
    reply: str | None  # the upstream's answer text, when it is one text block
    exit_code: int
    stderr: str
    # "exit": the process ended by itself; "killed": the recorder sent SIGTERM after the last
    # line (the replay then waits for a signal, like a CLI stuck on a stalled upstream).
    ending: str = "exit"
    upstream: list[dict[str, Any]] = field(default_factory=list)
    timing: list[float] = field(default_factory=list)  # seconds from spawn, per stdout line
    stdout: list[dict[str, Any]] = field(default_factory=list)

    @property
    def version_line(self) -> str:
        """What `claude --version` printed."""
        return f"{self.cli_version} (Claude Code)"

    def dumps(self) -> str:
        """Stable, diff-friendly text: one field per line, `timing` kept on one line."""
        data = asdict(self)
        timing = json.dumps(data.pop("timing"))
        text = json.dumps({**data, "timing": "@TIMING@"}, indent=1, ensure_ascii=False)
        return text.replace('"@TIMING@"', timing) + "\n"

    @classmethod
    def loads(cls, text: str) -> Transcript:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def transcripts_dir(environ: dict[str, str] | None = None) -> Path:
    """$CLAUDE_REPLAY_DIR, the copy inside the wheel, or conformance/transcripts of a checkout."""
    environ = dict(os.environ) if environ is None else environ
    explicit = environ.get("CLAUDE_REPLAY_DIR")
    if explicit:
        return Path(explicit)
    for candidate in (HERE / "recordings", HERE.parents[1] / "conformance" / "transcripts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no recorded CLI transcripts next to the cli_bridge package")


def scenario_names(directory: Path) -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in directory.glob(f"*{SUFFIX}"))


def load_transcript(directory: Path, name: str) -> Transcript:
    return Transcript.loads((directory / f"{name}{SUFFIX}").read_text(encoding="utf-8"))
