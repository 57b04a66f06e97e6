"""A session transcript the CLI can `--resume`: how any history reaches the model as real turns.

The CLI keeps each session as JSONL under `<config>/projects/<cwd slug>/<session id>.jsonl`.
Writing one line per turn there and starting `claude -p --resume <id> --fork-session
--no-session-persistence` makes the upstream receive exactly those turns (claude-cli.md §15).
This is the CLI's internal format (checked with 2.1.332): `tests/e2e/test_transcript_resume.py`
pins what reaches the upstream so a CLI upgrade that changes it fails loudly.

Pure functions: the clock and the id source are parameters, so tests are deterministic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .blocks import AssistantMessage, CliMessage, ContentBlock

# Longest project-directory name the CLI keeps as is; longer ones are cut and get a hash.
MAX_SLUG = 200


def _utf16_units(text: str) -> list[int]:
    """The CLI is JavaScript: strings are UTF-16, one astral character is two units."""
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def _java_hash(text: str) -> int:
    """`hash = (hash << 5) - hash + code | 0` over UTF-16 units, as the CLI computes it."""
    h = 0
    for unit in _utf16_units(text):
        h = (h * 31 + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def project_slug(cwd: str) -> str:
    """The CLI's directory name for a cwd: every UTF-16 unit that is not [A-Za-z0-9] becomes
    `-`; a name longer than 200 is cut to 200 and gets `-<base36 of abs(hash(cwd))>`
    (observed with 2.1.332: `.`, `_`, space, `+`, `~`, `ü` -> one `-` each, an emoji -> `--`)."""
    slug = "".join(chr(u) if u < 128 and chr(u).isalnum() else "-" for u in _utf16_units(cwd))
    if len(slug) <= MAX_SLUG:
        return slug
    return f"{slug[:MAX_SLUG]}-{_base36(abs(_java_hash(cwd)))}"


def config_dir(env: Mapping[str, str]) -> Path:
    """Where the CLI keeps its state for this environment: `CLAUDE_CONFIG_DIR`, else
    `$HOME/.claude`."""
    if env.get("CLAUDE_CONFIG_DIR"):
        return Path(env["CLAUDE_CONFIG_DIR"])
    return Path(env.get("HOME") or Path.home()) / ".claude"


def projects_dir(config: Path, cwd: str | Path) -> Path:
    """The folder the CLI searches for a session run in `cwd` (an absolute, resolved path:
    the CLI names the folder after its real working directory). Remove the whole folder when
    done: the CLI leaves a `memory/` folder beside the transcript."""
    return config / "projects" / project_slug(str(cwd))


def transcript_path(config: Path, cwd: str | Path, session_id: str) -> Path:
    return projects_dir(config, cwd) / f"{session_id}.jsonl"


def _timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`, the CLI's own form."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# Characters some line readers split on that json.dumps leaves raw (it escapes \n, \r, < 0x20).
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})


def _json_line(entry: object) -> str:
    """One JSONL line, UTF-8 readable, with no character any reader could take as a line end."""
    return json.dumps(entry, ensure_ascii=False).translate(_LINE_BREAKS) + "\n"


def _now() -> datetime:
    return datetime.now(UTC)


def _new_uuid() -> str:
    return str(uuid.uuid4())


def assistant_message(
    content: str | list[ContentBlock], model: str, msg_id: str
) -> AssistantMessage:
    """An assistant turn as a complete API message (usage zero: the turn was not billed here)."""
    blocks: list[ContentBlock] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    )
    tool_use = any(block["type"] == "tool_use" for block in blocks)
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": "tool_use" if tool_use else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def render_transcript(
    turns: Sequence[CliMessage],
    *,
    session_id: str,
    cwd: str | Path,
    version: str,
    model: str,
    clock: Callable[[], datetime] = _now,
    new_uuid: Callable[[], str] = _new_uuid,
) -> str:
    """The JSONL text of a session holding `turns`: one line per turn, each the child of the
    line before (`parentUuid`). `model` names the assistant turns' model; `version` is the
    CLI version the file claims to come from."""
    lines: list[str] = []
    parent: str | None = None
    for turn in turns:
        line_id = new_uuid()
        message: CliMessage | AssistantMessage
        if turn["role"] == "assistant":
            message = assistant_message(
                turn["content"], model, "msg_" + new_uuid().replace("-", "")
            )
        else:
            message = {"role": "user", "content": turn["content"]}
        entry = {
            "parentUuid": parent,
            "isSidechain": False,
            "type": turn["role"],
            "uuid": line_id,
            "timestamp": _timestamp(clock()),
            "sessionId": session_id,
            "cwd": str(cwd),
            "userType": "external",
            "version": version,
            "message": message,
        }
        lines.append(_json_line(entry))
        parent = line_id
    return "".join(lines)
