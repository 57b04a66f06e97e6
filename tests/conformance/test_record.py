"""The recorder: the committed transcripts still describe what the pinned real CLI does.

Each scenario is recorded again (about 0.4 s each with the real CLI against the fake upstream)
and compared by shape with conformance/transcripts/: a CLI that changed its event sequence,
keys, exit codes or upstream requests fails here until the transcripts are re-recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cli_bridge.replay.transcripts import Transcript, load_transcript, transcripts_dir
from conformance.fake_anthropic import FakeAnthropic
from conformance.record import Normaliser, main, run_scenario
from conformance.scenarios import BY_NAME, SCENARIOS, Scenario
from conformance.transcript_diff import compare, kind_sequence


@pytest.fixture(scope="module")
def record_upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_committed_transcript_matches_a_fresh_recording(
    scenario: Scenario, claude_bin: str, record_upstream: FakeAnthropic
):
    fresh = run_scenario(scenario, claude_bin, record_upstream)
    committed = load_transcript(transcripts_dir(), scenario.name)
    assert compare(committed, fresh) == [], (
        f"the CLI no longer behaves as recorded for {scenario.name}: "
        "re-record with `python -m conformance.record` and review"
    )
    assert fresh.argv[0] == "claude" and "/tmp/claude-record" not in fresh.dumps()


def test_round_trip_and_compare_reports_changes():
    committed = load_transcript(transcripts_dir(), "plain")
    again = Transcript.loads(committed.dumps())
    assert again == committed
    changed = Transcript.loads(committed.dumps())
    changed.exit_code = 3
    changed.stdout = [e for e in changed.stdout if e.get("type") != "assistant"]
    changed.stdout[0] = {**changed.stdout[0], "new_field": 1}
    report = "\n".join(compare(committed, changed))
    assert "exit_code: 0 -> 3" in report
    assert "-assistant" in report
    assert "system/init: new keys new_field" in report
    assert "stream_event:content_block_delta:text_delta ×4" in kind_sequence(committed)


def test_normaliser_is_stable_per_id():
    norm = Normaliser({"/tmp/abc/run": "/tmp/claude-max-api/run"})
    line = json.dumps(
        {
            "a": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "b": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "c": "msg_fake_abcdef0123456789abcd",
            "cwd": "/tmp/abc/run/work",
        }
    )
    out = json.loads(norm.text(line))
    assert out["a"] == out["b"] == "00000000-0000-4000-8000-000000000001"
    assert out["c"] == "msg_fake_" + "2".rjust(20, "0")
    assert out["cwd"] == "/tmp/claude-max-api/run/work"


def test_compare_command_on_identical_folders(capsys):
    assert main(["--compare", str(transcripts_dir())]) == 0
    assert "plain (2.1.332 -> 2.1.332): same shape" in capsys.readouterr().out


def test_model_keyed_maps_do_not_count_as_new_keys():
    committed = load_transcript(transcripts_dir(), "plain")
    other = Transcript.loads(committed.dumps())
    result = other.stdout[-1]
    result["modelUsage"] = {"claude-other-model": next(iter(result["modelUsage"].values()))}
    assert compare(committed, other) == []


def test_the_resumed_history_recording_pins_the_turns_sent():
    """The committed recording holds what reached the upstream from the written transcript:
    exactly its turns (assistant text as blocks), then the new question; a CLI that sends
    them differently shows up in `compare`."""
    scenario = BY_NAME["resumed_history"]
    committed = load_transcript(transcripts_dir(), scenario.name)
    (request,) = committed.upstream
    history = [
        {"role": t["role"], "content": [{"type": "text", "text": t["content"]}]}
        if t["role"] == "assistant" and isinstance(t["content"], str)
        else dict(t)
        for t in scenario.history
    ]
    assert request["turns"] == [*history, {"role": "user", "content": scenario.prompt}]
    assert "--resume" in committed.argv and "--fork-session" in committed.argv
    changed = Transcript.loads(committed.dumps())
    turns = changed.upstream[0]["turns"]
    assert isinstance(turns, list)
    changed.upstream[0]["turns"] = turns[2:]
    assert any(line.startswith("upstream requests:") for line in compare(committed, changed))
