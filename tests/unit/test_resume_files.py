"""cli_bridge.engine.resume: where the transcript for a fresh CLI goes, and what leaves."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from cli_bridge.engine.resume import write_transcript
from cli_bridge.protocol.blocks import CliMessage
from cli_bridge.protocol.transcript import project_slug

HISTORY: list[CliMessage] = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello"},
]


def test_written_for_the_real_cwd_in_the_childs_config_readable_by_the_user_only(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "config"), "HOME": "/nowhere"}
    written = write_transcript(HISTORY, env=env, cwd=link, model="opus", shared=False)
    assert written.folder == tmp_path / "config" / "projects" / project_slug(str(real))
    assert written.path.name == f"{written.session_id}.jsonl"
    assert stat.S_IMODE(os.stat(written.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(written.folder).st_mode) == 0o700
    lines = [json.loads(line) for line in written.path.read_text().splitlines()]
    assert [line["cwd"] for line in lines] == [str(real)] * 2
    assert {line["sessionId"] for line in lines} == {written.session_id}
    (written.folder / "memory").mkdir()  # what the CLI leaves
    written.remove()
    assert not written.folder.exists()
    written.remove()  # twice is fine


def test_a_shared_folder_keeps_what_is_not_ours(tmp_path: Path):
    env = {"HOME": str(tmp_path / "home")}
    one = write_transcript(HISTORY, env=env, cwd=tmp_path, model="opus", shared=True)
    two = write_transcript(HISTORY, env=env, cwd=tmp_path, model="opus", shared=True)
    assert (
        one.folder
        == two.folder
        == tmp_path / "home" / ".claude" / "projects" / (project_slug(os.path.realpath(tmp_path)))
    )
    assert one.session_id != two.session_id
    (one.folder / "memory").mkdir()
    one.remove()
    assert sorted(p.name for p in one.folder.iterdir()) == [two.path.name]  # memory/ was empty
    two.remove()
    assert not one.folder.exists()
