"""History as real turns, pinned with the real CLI: a transcript written by
`render_transcript` and resumed with `--resume <id> --fork-session --no-session-persistence`
reaches the upstream as exactly those turns, blocks byte-identical (image base64 included).

What the CLI 2.1.332 does with it, as these tests pin:
- it adds its own `role:"system"` entries: `[]` right after the first user turn, the
  `# Environment` text after the new one;
- assistant turns arrive as the complete content blocks written (a string became one text
  block in the file);
- it offers the upstream only its own tools: with `--tools ""` the request holds tool blocks
  and `tools: []`, which the real API (and so the fake) refuses with a 400 that the CLI
  reports as `API Error: 400 …` in an error `result` (after retrying twice with fewer betas);
  with a tool of its own on (`--tools Read`) the same history goes through unchanged;
- nothing new is written (the file is the proxy's to delete); removing the projects folder
  (the CLI leaves `memory/` beside the file) leaves no trace of the conversation behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.blocks import CliMessage
from cli_bridge.protocol.environment import child_env
from cli_bridge.protocol.stdin import user_line
from cli_bridge.protocol.transcript import projects_dir, render_transcript, transcript_path
from conformance.cli_install import CLI_VERSION
from conformance.fake_anthropic import FakeAnthropic
from tests.conftest import upstream_requests

MODEL = "claude-opus-5-5"  # what `--model opus` sends
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
TOOLS_REFUSED = "Requests which include tool_use or tool_result blocks must define tools."


def image() -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def text_history(marker: str) -> list[CliMessage]:
    return [
        {"role": "user", "content": [{"type": "text", "text": f"{marker} what is this?"}, image()]},
        {"role": "assistant", "content": "A one-pixel image."},
        {"role": "user", "content": "What colour is the pixel?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Grey, mostly."}]},
    ]


def tool_history(marker: str) -> list[CliMessage]:
    call = {
        "type": "tool_use",
        "id": "toolu_01Wx",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    return [
        {"role": "user", "content": [{"type": "text", "text": f"{marker} weather?"}, image()]},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}, call]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01Wx", "content": "18C"}],
        },
        {"role": "assistant", "content": "It is 18C in Paris."},
    ]


def as_sent(turn: CliMessage) -> dict[str, Any]:
    """A turn as the upstream must receive it: assistant text is a list of blocks."""
    content = turn["content"]
    if turn["role"] == "assistant" and isinstance(content, str):
        return {"role": "assistant", "content": [{"type": "text", "text": content}]}
    return dict(turn)


def resume_one_turn(
    claude_bin: str,
    upstream: FakeAnthropic,
    root: Path,
    turns: list[CliMessage],
    new: str,
    tools: str,
) -> tuple[dict[str, Any], Path, Path]:
    """Run one turn as the engine would (private cwd, TMPDIR and config), resuming a transcript
    of `turns`; return the `result` event, the config dir and the run dir."""
    run_dir = root / "run"
    cwd, tmp, config = run_dir / "work", run_dir / "tmp", root / "config"
    for folder in (cwd, tmp):
        folder.mkdir(parents=True, mode=0o700)
    session = str(uuid.uuid4())
    path = transcript_path(config, cwd, session)
    path.parent.mkdir(parents=True)
    path.write_text(
        render_transcript(turns, session_id=session, cwd=cwd, version=CLI_VERSION, model=MODEL),
        encoding="utf-8",
    )
    argv = [*build_argv(claude_bin, "opus", tools=tools), "--resume", session, "--fork-session"]
    assert "--no-session-persistence" in argv
    extra = {
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": "sk-test-upstream",
        "CLAUDE_CONFIG_DIR": str(config),
        "HOME": str(root / "home"),
    }
    env = child_env(os.environ, extra, tmpdir=str(tmp))
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(user_line(new))
        proc.stdin.flush()
        result: dict[str, Any] = {}
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("type") == "result":
                result = event
                break
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert result, "the CLI printed no result line"
    # Nothing new was written: only our file, and the `memory/` folder the CLI leaves.
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, "memory"])
    return result, config, run_dir


def assert_nothing_left(config: Path, run_dir: Path, cwd: Path, marker: str) -> None:
    """Removing the projects folder (as the proxy does after the turn) leaves no trace."""
    shutil.rmtree(projects_dir(config, cwd))
    assert list((config / "projects").iterdir()) == []
    for folder in (config, run_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert marker.encode() not in path.read_bytes(), f"{path} keeps the conversation"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path.resolve()  # the CLI names the projects folder after its real cwd


def test_text_and_image_history_arrives_as_real_turns(
    claude_bin: str, upstream: FakeAnthropic, root: Path, marker: str
) -> None:
    turns = text_history(marker)
    new = f"{marker} and now?"
    result, config, run_dir = resume_one_turn(claude_bin, upstream, root, turns, new, tools="")
    assert (result["subtype"], result["is_error"]) == ("success", False)
    (request,) = upstream_requests(upstream, marker)
    assert request["status"] == 200
    body = request["body"]
    assert body["tools"] == []
    sent = body["messages"]
    # The CLI's own system entries, where 2.1.332 puts them.
    roles = [m["role"] for m in sent]
    assert roles == ["user", "system", "assistant", "user", "assistant", "user", "system"]
    assert sent[1]["content"] == []
    assert sent[-1]["content"][0]["text"].startswith("# Environment")
    turns_sent = [m for m in sent if m["role"] != "system"]
    assert turns_sent == [*map(as_sent, turns), {"role": "user", "content": new}]
    assert turns_sent[0]["content"][1]["source"]["data"] == PNG  # byte-identical base64
    assert_nothing_left(config, run_dir, run_dir / "work", marker)


def test_tool_history_without_tools_is_the_api_400(
    claude_bin: str, upstream: FakeAnthropic, root: Path, marker: str
) -> None:
    """The CLI offers only its own tools: with none, a history holding tool blocks is refused
    by the real API, and the fake refuses it just the same."""
    turns = tool_history(marker)
    result, config, run_dir = resume_one_turn(claude_bin, upstream, root, turns, "go on", tools="")
    assert result["is_error"] is True
    assert result["api_error_status"] == 400
    assert result["result"] == f"API Error: 400 {TOOLS_REFUSED}"
    requests = upstream_requests(upstream, marker)
    assert requests, "the CLI never asked the upstream"
    assert {(r["status"], r["outcome"]) for r in requests} == {(400, "invalid_history")}
    assert all(r["body"]["tools"] == [] for r in requests)
    assert_nothing_left(config, run_dir, run_dir / "work", marker)


def test_tool_history_with_a_cli_tool_on_arrives_unchanged(
    claude_bin: str, upstream: FakeAnthropic, root: Path, marker: str
) -> None:
    """With any tool offered, the written tool_use / tool_result pair (for a tool the CLI does
    not have) and the image reach the upstream byte-identical."""
    turns = tool_history(marker)
    new = f"{marker} thanks"
    result, config, run_dir = resume_one_turn(claude_bin, upstream, root, turns, new, tools="Read")
    assert result["is_error"] is False
    (request,) = upstream_requests(upstream, marker)
    assert request["status"] == 200
    assert "Read" in [t["name"] for t in request["body"]["tools"]]
    turns_sent = [m for m in request["body"]["messages"] if m["role"] != "system"]
    assert turns_sent == [*map(as_sent, turns), {"role": "user", "content": new}]
    assert_nothing_left(config, run_dir, run_dir / "work", marker)
