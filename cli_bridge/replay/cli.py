"""`claude-max-api-replay`: a stand-in `claude` that plays back recorded real-CLI transcripts.

For tests and for CI without a Claude login: `claude-max-api --claude-bin claude-max-api-replay`.
It takes the real CLI's flags and stdin (`--input-format stream-json` user lines), then prints
the recorded stdout, stderr and exit code of one scenario, chosen by

1. a marker in the prompt, `[[replay:NAME]]` (e.g. `[[replay:error_429]]`, or just `429`);
2. the environment variable CLAUDE_REPLAY_SCENARIO;
3. otherwise the `plain` scenario, whose answer is rewritten to `Replay: <prompt>` so that
   concurrent requests can be told apart.

CLAUDE_REPLAY_PACE=1 replays with the recorded timing (0, the default, is as fast as possible);
CLAUDE_REPLAY_DIR points at another folder of transcripts; CLAUDE_REPLAY_LOG names a file that
gets one JSON line per turn (argv, scenario, prompt, system prompt) for tests to inspect.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..protocol.wire import JsonObject, JsonValue
from .structured import control_response, schema_from_flag, with_structured
from .transcripts import StdoutLine, Transcript, load_transcript, scenario_names, transcripts_dir

DEFAULT_SCENARIO = "plain"
ECHO_PREFIX = "Replay: "
ECHO_LIMIT = 2000
MARKER_RE = re.compile(r"\[\[replay:([A-Za-z0-9_.-]+)\]\]")
ALIASES = {"401": "error_401", "429": "error_429", "500": "error_500", "529": "error_529"}
PARTIAL_ONLY = ("stream_event",)


class ReplayError(Exception):
    """A usage error the real CLI would also refuse (printed to stderr, exit 1)."""


def compact_json(value: JsonValue) -> str:
    """JSON as the CLI prints it (JavaScript's JSON.stringify: no spaces, no ASCII escaping)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="claude", description="Replay of recorded Claude Code runs")
    flag = p.add_argument
    flag("prompt", nargs="?", default=None)
    for name in ("-p", "--print", "--verbose", "--include-partial-messages", "--bare"):
        flag(name, action="store_true")
    for name in ("--strict-mcp-config", "--no-session-persistence", "--fork-session"):
        flag(name, action="store_true")
    for name in ("--replay-user-messages", "--dangerously-skip-permissions"):
        flag(name, action="store_true")
    flag("-c", "--continue", action="store_true", dest="continue_")
    flag("-v", "--version", action="store_true")
    flag("--input-format", choices=("text", "stream-json"), default="text")
    flag("--output-format", choices=("text", "json", "stream-json"), default="text")
    for name in ("--model", "--system-prompt", "--system-prompt-file", "--append-system-prompt"):
        flag(name)
    for name in ("--append-system-prompt-file", "--permission-mode", "--max-turns"):
        flag(name)
    for name in (
        "--fallback-model",
        "--session-id",
        "--json-schema",
        "--setting-sources",
        "--effort",
    ):
        flag(name)
    flag("-r", "--resume")
    for name in ("--tools", "--allowedTools", "--allowed-tools", "--disallowedTools"):
        flag(name, nargs="*")
    for name in ("--disallowed-tools", "--mcp-config", "--add-dir", "--betas"):
        flag(name, nargs="*")
    return p


def prompt_from_user_line(line: JsonObject) -> str:
    """The text of a stream-json `user` line (string content or text blocks)."""
    message = line.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict)]
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""


def pick_scenario(prompt: str, environ: dict[str, str]) -> tuple[str, bool]:
    """(scenario name, whether to echo the prompt): marker, then env var, then the default."""
    match = MARKER_RE.search(prompt)
    if match:
        return ALIASES.get(match.group(1), match.group(1)), False
    named = environ.get("CLAUDE_REPLAY_SCENARIO", "").strip()
    if named:
        return ALIASES.get(named, named), False
    return DEFAULT_SCENARIO, True


def echo_text(prompt: str) -> str:
    text = MARKER_RE.sub("", prompt).strip()
    if len(text) > ECHO_LIMIT:
        text = text[:ECHO_LIMIT] + "…"
    return ECHO_PREFIX + text


def split_text(text: str, n: int) -> list[str]:
    """`text` in at most `n` nearly equal non-empty pieces (one empty piece for '')."""
    if not text:
        return [""]
    size = -(-len(text) // max(1, n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _text_delta(event: StdoutLine) -> JsonObject | None:
    inner = event.get("event") if isinstance(event, dict) else None
    delta = inner.get("delta") if isinstance(inner, dict) else None
    return delta if isinstance(delta, dict) and delta.get("type") == "text_delta" else None


def _content_blocks(event: JsonObject) -> list[JsonValue]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, list) else []


def with_reply(
    events: list[StdoutLine], timing: list[float], old: str, new: str
) -> tuple[list[StdoutLine], list[float]]:
    """The events with the single-block answer `old` replaced by `new` everywhere it shows."""
    n_deltas = sum(1 for e in events if _text_delta(e) is not None)
    pieces = iter(split_text(new, n_deltas))
    out: list[StdoutLine] = []
    times: list[float] = []
    for event, t in zip(events, timing or [0.0] * len(events), strict=False):
        event = copy.deepcopy(event)
        delta = _text_delta(event)
        if delta is not None:
            piece = next(pieces, None)
            if piece is None:
                continue  # the new answer is shorter than the recorded number of deltas
            delta["text"] = piece
        elif isinstance(event, dict) and event.get("type") == "assistant":
            for block in _content_blocks(event):
                if isinstance(block, dict) and (block.get("type"), block.get("text")) == (
                    "text",
                    old,
                ):
                    block["text"] = new
        elif isinstance(event, dict) and (event.get("type"), event.get("result")) == (
            "result",
            old,
        ):
            event["result"] = new
        out.append(event)
        times.append(t)
    return out, times


def visible(event: StdoutLine, args: argparse.Namespace) -> bool:
    """Partial-message events only appear with --include-partial-messages, as in the real CLI."""
    if args.include_partial_messages or not isinstance(event, dict):
        return True
    if event.get("type") in PARTIAL_ONLY:
        return False
    return not (event.get("type") == "system" and event.get("subtype") == "status")


def play(
    transcript: Transcript,
    echo: str | None,
    args: argparse.Namespace,
    out: TextIO,
    schema: JsonObject | None = None,
) -> None:
    events, timing = transcript.stdout, transcript.timing
    if echo is not None and transcript.reply is not None:
        events, timing = with_reply(events, timing, transcript.reply, echo)
    events = with_structured(events, schema)
    pace = float(os.environ.get("CLAUDE_REPLAY_PACE") or 0)
    previous = 0.0
    for event, t in zip(events, timing or [0.0] * len(events), strict=False):
        if pace > 0:
            time.sleep(max(0.0, t - previous) * pace)
            previous = t
        if not visible(event, args):
            continue
        if args.output_format == "stream-json":
            line = event if isinstance(event, str) else compact_json(event)
            out.write(line + "\n")
            out.flush()
        elif isinstance(event, dict) and event.get("type") == "result":
            text = compact_json(event) if args.output_format == "json" else None
            out.write((text if text is not None else str(event.get("result", ""))) + "\n")
            out.flush()
    if transcript.stderr:
        sys.stderr.write(transcript.stderr)
        sys.stderr.flush()


def _log(args: argparse.Namespace, argv: Sequence[str], scenario: str, prompt: str) -> None:
    path = os.environ.get("CLAUDE_REPLAY_LOG")
    if not path:
        return
    system = args.system_prompt
    if args.system_prompt_file:
        system = Path(args.system_prompt_file).read_text(encoding="utf-8")
    entry = {"argv": list(argv), "cwd": os.getcwd(), "scenario": scenario, "prompt": prompt}
    entry["system_prompt"] = system
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def turn(
    args: argparse.Namespace,
    argv: Sequence[str],
    prompt: str,
    directory: Path,
    schema: JsonObject | None = None,
) -> int:
    """Play one turn; returns the recorded exit code. A killed recording hangs until a signal."""
    name, echo = pick_scenario(prompt, dict(os.environ))
    if name not in scenario_names(directory):
        known = ", ".join(scenario_names(directory))
        raise ReplayError(f"unknown replay scenario {name!r} (known: {known})")
    _log(args, argv, name, prompt)
    transcript = load_transcript(directory, name)
    play(transcript, echo_text(prompt) if echo else None, args, sys.stdout, schema)
    if transcript.ending == "killed":
        while True:  # like a CLI whose upstream stalled: wait for SIGTERM
            time.sleep(3600)
    return transcript.exit_code


def check_args(args: argparse.Namespace) -> None:
    if args.output_format == "stream-json" and (args.p or args.print) and not args.verbose:
        raise ReplayError("When using --print, --output-format=stream-json requires --verbose")
    if args.system_prompt_file and not Path(args.system_prompt_file).is_file():
        raise ReplayError(f"System prompt file not found: {args.system_prompt_file}")


def run(argv: Sequence[str]) -> int:
    args, _unknown = build_parser().parse_known_args(argv)
    directory = transcripts_dir()
    if args.version:
        print(load_transcript(directory, DEFAULT_SCENARIO).version_line)
        return 0
    check_args(args)
    try:
        schema = schema_from_flag(args.json_schema)
    except ValueError as exc:
        raise ReplayError(f"--json-schema is not valid JSON: {exc}") from None
    if args.input_format != "stream-json":
        prompt = args.prompt if args.prompt is not None else sys.stdin.read()
        return turn(args, argv, prompt, directory, schema)
    code = 0
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            line: JsonValue = json.loads(raw)
        except ValueError:
            n = len(raw.rstrip("\n"))
            raise ReplayError(f"Error parsing streaming input line ({n} chars)") from None
        if isinstance(line, dict) and line.get("type") == "user":
            code = turn(args, argv, prompt_from_user_line(line), directory, schema)
        elif isinstance(line, dict) and (answer := control_response(line)) is not None:
            request = line.get("request")
            given = request.get("jsonSchema") if isinstance(request, dict) else None
            schema = given if isinstance(given, dict) else schema
            sys.stdout.write(compact_json(answer) + "\n")
            sys.stdout.flush()
    return code


def _exit_on_signal(signum: int, _frame: object) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ReplayError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away, as when the proxy kills a request
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
