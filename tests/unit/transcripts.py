"""Real stream-json stdout of Claude Code CLI 2.1.332 (and one 2.1.197 run), copied into
tests/data/cli so the unit tests need neither the CLI nor the shared transcript folder."""

from __future__ import annotations

from pathlib import Path

from cli_bridge.protocol.events import CliEvent, event_from_line

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"

ALL = sorted(p.stem for p in DATA.glob("*.stdout"))


def lines(name: str) -> list[bytes]:
    """The non-empty stdout lines of transcript `name`, as the bridge reads them (bytes)."""
    raw = (DATA / f"{name}.stdout").read_bytes()
    return [line for line in raw.splitlines(keepends=True) if line.strip()]


def events(name: str) -> list[CliEvent]:
    return [event_from_line(line) for line in lines(name)]
