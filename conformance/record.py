"""Record the real Claude Code CLI for every named scenario, against the fake Anthropic API.

    python -m conformance.record                      # all scenarios -> conformance/transcripts/
    python -m conformance.record plain error_429      # some of them
    CLAUDE_CLI_VERSION=2.1.400 python -m conformance.record --out /tmp/new
    python -m conformance.record --compare /tmp/new   # what changed, scenario by scenario

Each run uses exactly what the proxy uses: `build_argv`, `child_env`, an empty working
directory, the system prompt in a file, a `render_transcript` transcript resumed for a
scenario with history, one `user_line` line on stdin (closed once the `result` line arrives).
What reached the upstream is kept per request (roles, and the turns of a resumed history), so
`--compare` flags a CLI that sends a resumed transcript differently. Paths, session ids,
uuids and the fake's message ids are normalised so that re-recording the same CLI gives a
small diff.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from cli_bridge.engine.resume import write_transcript
from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.environment import child_env
from cli_bridge.protocol.stdin import user_line
from cli_bridge.replay.transcripts import SUFFIX, Transcript, load_transcript, scenario_names
from conformance.cli_install import cli_version, ensure_claude
from conformance.fake_anthropic import FakeAnthropic
from conformance.scenarios import BY_NAME, SCENARIOS, Scenario
from conformance.transcript_diff import compare

DEFAULT_DIR = Path(__file__).resolve().parent / "transcripts"
RUN_DIR = "/tmp/claude-max-api/run"  # what recorded paths are rewritten to
HOME_DIR = "/home/user"
FAKE_HOST = "127.0.0.1:8765"
RUN_TIMEOUT = 120.0
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
FAKE_ID_RE = re.compile(r"\b(msg_fake_|req_fake_|toolu_fake_|fakesig_)([0-9a-f]+)")
SOCKET_RE = re.compile(r"/cc-socks/\d+\.sock")
_EOF = object()


def slug(path: str) -> str:
    """How the CLI names a project directory after its cwd."""
    return re.sub(r"[^A-Za-z0-9]", "-", path)


class Normaliser:
    """Rewrites machine-specific paths and random ids to stable values (same id, same value)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = sorted(paths.items(), key=lambda kv: -len(kv[0]))
        self.ids: dict[str, str] = {}

    def _uuid(self, match: re.Match[str]) -> str:
        n = self.ids.setdefault(match.group(0), f"{len(self.ids) + 1:012d}")
        return f"00000000-0000-4000-8000-{n}"

    def _fake_id(self, match: re.Match[str]) -> str:
        prefix, value = match.groups()
        n = self.ids.setdefault(match.group(0), f"{len(self.ids) + 1}")
        return prefix + n.rjust(len(value), "0")

    def text(self, text: str) -> str:
        for old, new in self.paths:
            text = text.replace(old, new)
        text = UUID_RE.sub(self._uuid, text)
        text = FAKE_ID_RE.sub(self._fake_id, text)
        return SOCKET_RE.sub("/cc-socks/1000.sock", text)


def _pump(stream: IO[bytes], out: queue.Queue[Any], start: float) -> None:
    for line in iter(stream.readline, b""):
        out.put((time.monotonic() - start, line))
    out.put(_EOF)


def _is_text_delta(event: Any) -> bool:
    inner = event.get("event") if isinstance(event, dict) else None
    delta = inner.get("delta") if isinstance(inner, dict) else None
    return isinstance(delta, dict) and delta.get("type") == "text_delta"


def _turns(messages: Any, norm: Normaliser) -> list[Any]:
    """The user / assistant messages as sent (the CLI's own `system` entries left out)."""
    sent = [m for m in messages if isinstance(m, dict) and m.get("role") != "system"]
    return [json.loads(norm.text(json.dumps(m, ensure_ascii=False))) for m in sent]


def _upstream_summary(
    entry: dict[str, Any], norm: Normaliser, *, turns: bool = False
) -> dict[str, Any]:
    body = entry.get("body") if isinstance(entry.get("body"), dict) else {}
    system = body.get("system")
    tail = system[-1].get("text") if isinstance(system, list) and system else system
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    return {
        "method": entry.get("method"),
        "path": entry.get("path"),
        "stream": entry.get("stream"),
        "model": body.get("model"),
        "status": entry.get("status"),
        "outcome": entry.get("outcome"),
        "max_tokens": body.get("max_tokens"),
        "roles": [m.get("role") for m in messages if isinstance(m, dict)],
        "system_tail": norm.text(str(tail))[:300] if tail is not None else None,
        **({"turns": _turns(messages, norm)} if turns else {}),
    }


def run_scenario(scenario: Scenario, claude_bin: str, fake: FakeAnthropic) -> Transcript:
    """Run the CLI once for `scenario` and return its normalised transcript."""
    root = Path(tempfile.mkdtemp(prefix="claude-record-")).resolve()
    try:
        run_dir, home = root / "run", root / "home"
        (run_dir / "work").mkdir(parents=True)
        (run_dir / "tmp").mkdir()
        home.mkdir()
        system_file = None
        if scenario.system_prompt is not None:
            system_file = run_dir / "system-prompt.txt"
            system_file.write_text(scenario.system_prompt, encoding="utf-8")
        extra = {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-record-not-secret",
            "HOME": str(home),
            **scenario.env,
        }
        env = child_env({"PATH": os.environ.get("PATH", "")}, extra, tmpdir=str(run_dir / "tmp"))
        # The history goes in exactly as the engine writes it (removed with `root` below).
        session = None
        if scenario.history:
            written = write_transcript(
                scenario.history, env=env, cwd=run_dir / "work", model="opus", shared=False
            )
            session = written.session_id
        argv = build_argv(
            claude_bin, scenario.cli_model, system_prompt_file=system_file, resume=session
        )
        stdin_line = user_line(scenario.prompt)
        norm = Normaliser(
            {
                str(run_dir): RUN_DIR,
                slug(str(run_dir)): slug(RUN_DIR),
                str(home): HOME_DIR,
                fake.url.removeprefix("http://"): FAKE_HOST,
            }
        )
        seen = len(fake.requests)
        lines, code, stderr, killed = _drive(argv, env, run_dir / "work", stdin_line, scenario)
        stdout: list[Any] = []
        for _, raw in lines:
            text = norm.text(raw.decode("utf-8", "replace").rstrip("\n"))
            try:
                stdout.append(json.loads(text))
            except ValueError:
                stdout.append(text)
        return Transcript(
            name=scenario.name,
            description=scenario.description,
            cli_version=cli_version(claude_bin) or "unknown",
            argv=["claude", *(norm.text(a) for a in argv[1:])],
            env=dict(scenario.env),
            stdin=[json.loads(stdin_line)],
            system_prompt=scenario.system_prompt,
            reply=scenario.reply,
            exit_code=code,
            stderr=norm.text(stderr),
            ending="killed" if killed else "exit",
            upstream=[
                _upstream_summary(e, norm, turns=bool(scenario.history))
                for e in fake.requests[seen:]
            ],
            timing=[round(t, 3) for t, _ in lines],
            stdout=stdout,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _drive(
    argv: list[str], env: dict[str, str], cwd: Path, stdin_line: bytes, scenario: Scenario
) -> tuple[list[tuple[float, bytes]], int, str, bool]:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, out, start), daemon=True).start()
    err: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stderr, err, start), daemon=True).start()
    proc.stdin.write(stdin_line)
    proc.stdin.flush()
    lines: list[tuple[float, bytes]] = []
    kill_at: float | None = None
    killed = False
    try:
        while True:
            now = time.monotonic()
            if now - start > RUN_TIMEOUT:
                raise TimeoutError(f"scenario {scenario.name} did not finish in {RUN_TIMEOUT}s")
            if kill_at is not None and now >= kill_at:
                os.killpg(proc.pid, signal.SIGTERM)
                killed, kill_at = True, None
            try:
                item = out.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is _EOF:
                break
            lines.append(item)
            with contextlib.suppress(ValueError):
                event = json.loads(item[1])
                if _is_text_delta(event) and scenario.kill_after_first_delta and not killed:
                    kill_at = kill_at or time.monotonic() + scenario.kill_after_first_delta
                if isinstance(event, dict) and event.get("type") == "result":
                    proc.stdin.close()  # as the proxy does once the turn is over
        code = proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stderr = b"".join(item[1] for item in _drain(err))
    return lines, code, stderr.decode("utf-8", "replace"), killed


def _drain(q: queue.Queue[Any]) -> Iterable[tuple[float, bytes]]:
    while (item := q.get(timeout=5)) is not _EOF:
        yield item


def record(names: list[str], out_dir: Path) -> None:
    claude_bin = ensure_claude()
    out_dir.mkdir(parents=True, exist_ok=True)
    with FakeAnthropic() as fake:
        for name in names:
            started = time.monotonic()
            transcript = run_scenario(BY_NAME[name], claude_bin, fake)
            (out_dir / f"{name}{SUFFIX}").write_text(transcript.dumps(), encoding="utf-8")
            print(
                f"{name}: exit {transcript.exit_code}, {len(transcript.stdout)} lines, "
                f"{len(transcript.upstream)} upstream requests, {time.monotonic() - started:.1f}s",
                file=sys.stderr,
            )


def report_differences(old_dir: Path, new_dir: Path) -> int:
    """Print the shape differences between two transcript folders; 1 if any."""
    changed = 0
    for name in sorted(set(scenario_names(old_dir)) | set(scenario_names(new_dir))):
        try:
            old, new = load_transcript(old_dir, name), load_transcript(new_dir, name)
        except FileNotFoundError as exc:
            print(f"== {name}: only in one folder ({exc.filename})")
            changed += 1
            continue
        diffs = compare(old, new)
        header = f"== {name} ({old.cli_version} -> {new.cli_version})"
        print(header + (": same shape" if not diffs else ""))
        for line in diffs:
            print(f"   {line}")
        changed += bool(diffs)
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all ({', '.join(BY_NAME)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="where to write")
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="compare DIR with --out instead of recording"
    )
    args = parser.parse_args(argv)
    if args.compare is not None:
        return report_differences(args.out, args.compare)
    unknown = [n for n in args.scenarios if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(BY_NAME)}")
    record(args.scenarios or [s.name for s in SCENARIOS], args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
