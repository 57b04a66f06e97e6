"""The session-transcript writer and the CLI's project-folder naming (pure, no processes).

The slug cases are what the real CLI 2.1.332 created for these exact working directories.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_bridge.protocol.blocks import CliMessage
from cli_bridge.protocol.transcript import (
    config_dir,
    project_slug,
    projects_dir,
    render_transcript,
    transcript_path,
)

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    ("cwd", "slug"),
    [
        ("/tmp/x/proj", "-tmp-x-proj"),
        ("/tmp/hx_tvn2jjsc/w/my.proj_x y+z~ü", "-tmp-hx-tvn2jjsc-w-my-proj-x-y-z--"),
        ("/tmp/hy_nfv4m4vn/w/e\U0001f600x", "-tmp-hy-nfv4m4vn-w-e--x"),  # emoji: 2 UTF-16 units
        ("/tmp/hy_x/w/" + "A" * 188, "-tmp-hy-x-w-" + "A" * 188),  # exactly 200: kept whole
        (
            "/tmp/hy_nfv4m4vn/w/" + "B" * 182,
            ("-tmp-hy-nfv4m4vn-w-" + "B" * 182)[:200] + "-rpdki3",
        ),
        (
            "/tmp/hx_tvn2jjsc/w/" + "L" * 240,
            ("-tmp-hx-tvn2jjsc-w-" + "L" * 240)[:200] + "-yelall",
        ),
    ],
)
def test_project_slug_matches_the_cli(cwd: str, slug: str) -> None:
    assert project_slug(cwd) == slug


def test_paths_and_config_dir() -> None:
    cfg = Path("/c")
    assert projects_dir(cfg, "/r/run_1/work") == Path("/c/projects/-r-run-1-work")
    assert transcript_path(cfg, Path("/w"), "sid") == Path("/c/projects/-w/sid.jsonl")
    assert config_dir({"CLAUDE_CONFIG_DIR": "/x", "HOME": "/h"}) == Path("/x")
    assert config_dir({"HOME": "/h"}) == Path("/h/.claude")
    assert config_dir({"CLAUDE_CONFIG_DIR": "", "HOME": "/h"}) == Path("/h/.claude")


def _deterministic() -> dict[str, object]:
    start = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    ticks = itertools.count()
    ids = itertools.count(1)
    return {
        "clock": lambda: start + timedelta(seconds=next(ticks)),
        "new_uuid": lambda: f"00000000-0000-4000-8000-{next(ids):012d}",
    }


def test_render_transcript_exact_lines() -> None:
    turns: list[CliMessage] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "7"}],
        },
        {"role": "assistant", "content": "ünïcode"},
    ]
    text = render_transcript(
        turns, session_id="sid-1", cwd="/w", version="2.1.332", model="claude-x", **_deterministic()
    )
    assert text.endswith("\n") and "ünïcode" in text  # UTF-8, not \u escapes
    lines = [json.loads(line) for line in text.splitlines()]
    common = {"isSidechain": False, "sessionId": "sid-1", "cwd": "/w", "userType": "external"}
    common["version"] = "2.1.332"
    assert lines[0] == {
        "parentUuid": None,
        "type": "user",
        "uuid": "00000000-0000-4000-8000-000000000001",
        "timestamp": "2026-11-25T10:00:00.123Z",
        "message": turns[0],
        **common,
    }
    assert lines[1] == {
        "parentUuid": "00000000-0000-4000-8000-000000000001",
        "type": "assistant",
        "uuid": "00000000-0000-4000-8000-000000000002",
        "timestamp": "2026-11-25T10:00:01.123Z",
        "message": {
            "id": "msg_00000000000040008000000000000003",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": turns[1]["content"],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        },
        **common,
    }
    assert lines[2]["parentUuid"] == lines[1]["uuid"]
    assert lines[2]["message"] == {"role": "user", "content": turns[2]["content"]}
    last = lines[3]["message"]
    assert last["content"] == [{"type": "text", "text": "ünïcode"}]
    assert last["stop_reason"] == "end_turn"
    assert [line["parentUuid"] for line in lines[1:]] == [line["uuid"] for line in lines[:-1]]
    assert len({line["uuid"] for line in lines}) == 4
    # Exactly the fields the CLI needs, no more: nothing a future reader must guess at.
    assert all(set(line) == set(lines[0]) for line in lines)


def test_render_empty_and_timezone() -> None:
    assert render_transcript([], session_id="s", cwd="/w", version="v", model="m") == ""
    plus2 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).astimezone()
    line = render_transcript(
        [{"role": "user", "content": "hi"}],
        session_id="s",
        cwd="/w",
        version="v",
        model="m",
        clock=lambda: plus2,
    )
    assert json.loads(line)["timestamp"] == "2026-01-01T12:00:00.000Z"


def test_no_character_in_a_turn_can_split_a_line() -> None:
    tricky = "a\u2028b\u2029c\x85d\ne\rf\x1cg"
    text = render_transcript(
        [{"role": "user", "content": tricky}], session_id="s", cwd="/w", version="v", model="m"
    )
    assert len(text.splitlines()) == 1
    assert json.loads(text)["message"]["content"] == tricky
