"""The replay CLI, as `pip install` of the wheel gives it: flags, stdin, scenarios, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.events import Other, Result, TextDelta, event_from_line
from cli_bridge.protocol.stdin import user_line
from cli_bridge.replay.cli import pick_scenario, split_text, with_reply
from cli_bridge.replay.transcripts import load_transcript, scenario_names, transcripts_dir
from conformance.cli_install import CLI_VERSION
from conformance.scenarios import BY_NAME

DIR = transcripts_dir()


def run_replay(
    replay_bin: str, *prompts: str, env: dict[str, str] | None = None, argv: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = argv if argv is not None else build_argv(replay_bin, "opus")
    stdin = b"".join(user_line(p) for p in prompts).decode()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_REPLAY")}
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        env={**full_env, **(env or {})},
        timeout=30,
    )


def stdout_events(proc: subprocess.CompletedProcess[str]) -> list[Any]:
    return [event_from_line(line.encode()) for line in proc.stdout.splitlines() if line.strip()]


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_wheel_ships_every_transcript_and_the_console_script(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = zf.read(entry_points).decode()
    assert "claude-max-api-replay = cli_bridge.replay.cli:main" in scripts
    for name in scenario_names(DIR):
        assert f"cli_bridge/replay/recordings/{name}.json" in names


def test_transcripts_cover_the_scenarios_and_the_pinned_cli():
    assert set(scenario_names(DIR)) == set(BY_NAME)
    versions = {load_transcript(DIR, n).cli_version for n in scenario_names(DIR)}
    assert versions == {CLI_VERSION}, "re-record the transcripts when the CLI pin changes"


def test_version_prints_like_the_real_cli(replay_bin: str):
    out = subprocess.run([replay_bin, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout == f"{CLI_VERSION} (Claude Code)\n"


def test_default_scenario_echoes_the_prompt(replay_bin: str):
    proc = run_replay(replay_bin, "What is 2+2?")
    assert proc.returncode == 0, proc.stderr
    events = stdout_events(proc)
    assert text_of(events) == "Replay: What is 2+2?"
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.text == "Replay: What is 2+2?" and not result.is_error


def test_marker_env_and_alias_choose_the_scenario(replay_bin: str):
    by_marker = run_replay(replay_bin, "hi [[replay:multi_block]]")
    assert (
        text_of(stdout_events(by_marker))
        == "First block of the answer.Second block, after the first."
    )
    by_env = run_replay(replay_bin, "hi", env={"CLAUDE_REPLAY_SCENARIO": "error_429"})
    by_alias = run_replay(replay_bin, "hi [[replay:429]]")
    for proc in (by_env, by_alias):
        assert proc.returncode == 1
        (result,) = [e for e in stdout_events(proc) if isinstance(e, Result)]
        assert result.is_error and result.api_error_status == 429


def test_each_stdin_line_is_one_turn(replay_bin: str):
    proc = run_replay(replay_bin, "first", "second")
    assert proc.returncode == 0
    results = [e for e in stdout_events(proc) if isinstance(e, Result)]
    assert [r.text for r in results] == ["Replay: first", "Replay: second"]


def test_unknown_scenario_fails_like_a_broken_cli(replay_bin: str):
    proc = run_replay(replay_bin, "hi [[replay:no_such_thing]]")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "unknown replay scenario 'no_such_thing'" in proc.stderr
    assert "error_429" in proc.stderr


def test_flag_checks_of_the_real_cli(replay_bin: str, tmp_path: Path):
    no_verbose = [
        replay_bin,
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
    ]
    proc = run_replay(replay_bin, "hi", argv=no_verbose)
    assert proc.returncode == 1 and "requires --verbose" in proc.stderr
    missing = build_argv(replay_bin, "opus", system_prompt_file=tmp_path / "nope.txt")
    proc = run_replay(replay_bin, "hi", argv=missing)
    assert proc.returncode == 1 and "nope.txt" in proc.stderr


def test_partial_messages_only_when_asked(replay_bin: str):
    argv = [x for x in build_argv(replay_bin, "opus") if x != "--include-partial-messages"]
    events = stdout_events(run_replay(replay_bin, "hi [[replay:plain]]", argv=argv))
    assert not any(isinstance(e, TextDelta) for e in events)
    assert not any(isinstance(e, Other) and e.type == "stream_event" for e in events)
    assert isinstance(events[-1], Result)


def test_text_and_json_output_formats(replay_bin: str):
    text = subprocess.run([replay_bin, "-p", "hello"], capture_output=True, text=True)
    assert text.stdout == "Replay: hello\n" and text.returncode == 0
    as_json = subprocess.run(
        [replay_bin, "-p", "--output-format", "json", "x [[replay:cache_usage]]"],
        capture_output=True,
        text=True,
    )
    result = json.loads(as_json.stdout)
    assert result["type"] == "result" and result["usage"]["cache_read_input_tokens"] == 1200


def test_hang_waits_for_sigterm_and_exits_143(replay_bin: str):
    proc = subprocess.Popen(
        build_argv(replay_bin, "opus"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(user_line("wait [[replay:hang]]"))
    proc.stdin.flush()
    lines = [proc.stdout.readline() for _ in range(5)]
    assert isinstance(event_from_line(lines[-1]), TextDelta)
    time.sleep(0.3)
    assert proc.poll() is None, "a stalled CLI keeps running"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 143
    proc.stdin.close()


def test_recorded_pacing_is_optional(replay_bin: str):
    started = time.monotonic()
    run_replay(replay_bin, "hi", env={"CLAUDE_REPLAY_PACE": "1"})
    paced = time.monotonic() - started
    recorded = load_transcript(DIR, "plain").timing[-1]
    assert paced >= recorded * 0.9


@pytest.mark.parametrize("name", scenario_names(DIR))
def test_every_recorded_line_parses_as_a_cli_event(name: str):
    transcript = load_transcript(DIR, name)
    assert transcript.stdout, "a transcript without output"
    assert len(transcript.timing) == len(transcript.stdout)
    for event in transcript.stdout:
        event_from_line(json.dumps(event).encode())  # raises MalformedLine
    if transcript.ending == "exit":
        assert transcript.stdout[-1]["type"] == "result"


def test_pick_scenario_order():
    env = {"CLAUDE_REPLAY_SCENARIO": "error_500"}
    assert pick_scenario("x [[replay:thinking]]", env) == ("thinking", False)
    assert pick_scenario("x", env) == ("error_500", False)
    assert pick_scenario("x", {}) == ("plain", True)
    assert pick_scenario("[[replay:529]]", {}) == ("error_529", False)


def test_with_reply_rewrites_every_copy_of_the_answer():
    transcript = load_transcript(DIR, "plain")
    assert transcript.reply is not None
    events, timing = with_reply(transcript.stdout, transcript.timing, transcript.reply, "Hi")
    assert len(events) == len(timing)
    parsed = [event_from_line(json.dumps(e).encode()) for e in events]
    assert text_of(parsed) == "Hi"
    assert next(e for e in parsed if isinstance(e, Result)).text == "Hi"
    assert transcript.reply not in json.dumps(events)
    assert split_text("abcdefg", 3) == ["abc", "def", "g"]
    assert split_text("", 4) == [""]
