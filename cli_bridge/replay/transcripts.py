"""Recorded CLI runs: one JSON file per scenario, written by `conformance/record.py`.

A transcript holds what one real `claude` process did for one proxy-shaped request: its argv,
stdin, stdout events (one per line, ids and paths normalised), stderr, exit code and the CLI
version. The replay CLI plays them back; the files ship inside the wheel so it works anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias, TypedDict

from ..protocol.wire import JsonObject, JsonValue

HERE = Path(__file__).resolve().parent
SUFFIX = ".json"

# "exit": the process ended by itself; "killed": the recorder sent SIGTERM after the last
# line (the replay then waits for a signal, like a CLI stuck on a stalled upstream).
Ending: TypeAlias = Literal["exit", "killed"]

# One stdout line as recorded: its JSON value, or its text when it was not JSON.
StdoutLine: TypeAlias = JsonValue


class TranscriptJson(TypedDict):
    """A transcript file, as conformance/record.py writes it (Transcript.dumps)."""

    name: str
    description: str
    cli_version: str
    argv: list[str]
    env: dict[str, str]
    stdin: list[JsonObject]
    system_prompt: str | None
    reply: str | None
    exit_code: int
    stderr: str
    ending: Ending
    upstream: list[JsonObject]
    timing: list[float]
    stdout: list[StdoutLine]


class BadTranscript(ValueError):
    """A transcript file that does not hold what a transcript holds."""


@dataclass(slots=True)
class Transcript:
    name: str
    description: str
    cli_version: str
    argv: list[str]
    env: dict[str, str]
    stdin: list[JsonObject]  # the user lines written to the CLI
    system_prompt: str | None
    reply: str | None  # the upstream's answer text, when it is one text block
    exit_code: int
    stderr: str
    ending: Ending = "exit"
    upstream: list[JsonObject] = field(default_factory=list)
    timing: list[float] = field(default_factory=list)  # seconds from spawn, per stdout line
    stdout: list[StdoutLine] = field(default_factory=list)

    @property
    def version_line(self) -> str:
        """What `claude --version` printed."""
        return f"{self.cli_version} (Claude Code)"

    def to_json(self) -> TranscriptJson:
        return {
            "name": self.name,
            "description": self.description,
            "cli_version": self.cli_version,
            "argv": self.argv,
            "env": self.env,
            "stdin": self.stdin,
            "system_prompt": self.system_prompt,
            "reply": self.reply,
            "exit_code": self.exit_code,
            "stderr": self.stderr,
            "ending": self.ending,
            "upstream": self.upstream,
            "timing": self.timing,
            "stdout": self.stdout,
        }

    def dumps(self) -> str:
        """Stable, diff-friendly text: one field per line, `timing` kept on one line."""
        data = self.to_json()
        body = {key: value for key, value in data.items() if key != "timing"}
        text = json.dumps({**body, "timing": "@TIMING@"}, indent=1, ensure_ascii=False)
        timing = json.dumps(data["timing"])
        return text.replace('"@TIMING@"', timing) + "\n"

    @classmethod
    def loads(cls, text: str) -> Transcript:
        """Parse and check a transcript file; BadTranscript names the first wrong field."""
        data: JsonValue = json.loads(text)
        if not isinstance(data, dict):
            raise BadTranscript("a transcript is a JSON object")
        ending: Ending
        match data.get("ending", "exit"):
            case "exit" | "killed" as ending:
                pass
            case other:
                raise BadTranscript(f"ending must be 'exit' or 'killed', not {other!r}")
        exit_code = data.get("exit_code")
        if not isinstance(exit_code, int) or isinstance(exit_code, bool):
            raise BadTranscript("exit_code must be an integer")
        return cls(
            name=_str(data, "name"),
            description=_str(data, "description"),
            cli_version=_str(data, "cli_version"),
            argv=[_checked_str(a, "argv") for a in _list(data, "argv")],
            env={k: _checked_str(v, "env") for k, v in _dict(data, "env").items()},
            stdin=[_checked_dict(line, "stdin") for line in _list(data, "stdin")],
            system_prompt=_str_or_none(data, "system_prompt"),
            reply=_str_or_none(data, "reply"),
            exit_code=exit_code,
            stderr=_str(data, "stderr"),
            ending=ending,
            upstream=[_checked_dict(entry, "upstream") for entry in _list(data, "upstream")],
            timing=[_checked_number(t) for t in _list(data, "timing")],
            stdout=_list(data, "stdout"),
        )


def _checked_str(value: JsonValue, key: str) -> str:
    if not isinstance(value, str):
        raise BadTranscript(f"{key} must hold strings")
    return value


def _checked_dict(value: JsonValue, key: str) -> JsonObject:
    if not isinstance(value, dict):
        raise BadTranscript(f"{key} must hold JSON objects")
    return value


def _checked_number(value: JsonValue) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadTranscript("timing must hold numbers")
    return value  # an int stays an int, so a file loads and dumps unchanged


def _str(data: JsonObject, key: str) -> str:
    return _checked_str(data.get(key), key)


def _str_or_none(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _checked_str(value, key)


def _list(data: JsonObject, key: str) -> list[JsonValue]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise BadTranscript(f"{key} must be a list")
    return value


def _dict(data: JsonObject, key: str) -> JsonObject:
    return _checked_dict(data.get(key, {}), key)


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
