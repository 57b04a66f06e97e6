"""A history for a fresh CLI process: the session transcript it resumes, and its removal.

A request whose history no live process holds gets a fresh CLI started with `--resume <id>
--fork-session --no-session-persistence` after its turns are written as a transcript where
the CLI looks for it: `<config of the child's env>/projects/<slug of the real cwd>/<id>.jsonl`
(claude-cli.md §15). It must be the child's real config dir (a private one loses the login).

What is written is removed as soon as the CLI prints its first line (it has loaded the history
by then, and a live process keeps it in memory: tests/e2e/test_history_turns.py pins both), again
when the turn ends (the CLI adds `memory/` beside it) and in every failure path
(Worker.retire), so a proxy killed mid-turn leaves no copy of the conversation behind:
- a private run directory (the default) has a projects folder of its own: the whole folder
  goes, with the `memory/` folder the CLI leaves in it;
- with the operator's fixed `--workdir` every run (and the operator's own Claude sessions in
  that directory) shares one projects folder: only our file goes, then `memory/` and the
  folder only if they are empty. Session ids are fresh uuid4s, so concurrent runs never write
  the same file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cli_version import CLI_VERSION
from ..protocol.blocks import CliMessage
from ..protocol.transcript import config_dir, render_transcript, transcript_path


@dataclass(frozen=True, slots=True)
class ResumeFile:
    """One transcript written for one process."""

    session_id: str
    path: Path
    shared: bool  # the projects folder belongs to a fixed workdir, not to this run alone

    @property
    def folder(self) -> Path:
        return self.path.parent

    def remove(self) -> None:
        """Remove what was written for this process (safe to call twice)."""
        if not self.shared:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        self.path.unlink(missing_ok=True)
        for folder in (self.folder / "memory", self.folder):
            with contextlib.suppress(OSError):  # not empty: another run's, or the operator's
                folder.rmdir()


def write_transcript(
    history: Sequence[CliMessage],
    *,
    env: Mapping[str, str],
    cwd: Path,
    model: str,
    shared: bool,
) -> ResumeFile:
    """Write `history` for a CLI that will run in `cwd` with `env`; readable by the user only.

    The CLI names the folder after its real working directory, so symlinks in `cwd` are
    resolved first. The file claims the pinned CLI version: the format is pinned to it
    (tests/e2e/test_transcript_resume.py), and a newer CLI reads an older one's sessions."""
    real = os.path.realpath(cwd)
    session_id = str(uuid.uuid4())
    path = transcript_path(config_dir(env), real, session_id)
    text = render_transcript(
        history, session_id=session_id, cwd=real, version=CLI_VERSION, model=model
    )
    written = ResumeFile(session_id, path, shared)
    try:
        for attempt in (1, 2):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileNotFoundError:  # a shared folder another run just removed as empty
                if attempt == 2:
                    raise
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BaseException:
        written.remove()
        raise
    return written
