"""Benchmark plumbing: the fake upstream and the proxy as separate processes, a traced proxy,
direct CLI runs, and small statistics helpers. The benchmarks themselves are in bench.py.

The proxy runs in its own process (`python -m conformance.bench_harness serve --trace F ...`)
so that neither the fake upstream's threads nor the measuring client share its GIL. Its
bridge gets a tracer that writes `monotonic-time what pid line` for each CLI start, stdin
write and text-delta stdout line; CLOCK_MONOTONIC is system-wide, so those times compare
directly with the client's.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import psutil

from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.environment import child_env
from cli_bridge.protocol.stdin import user_line

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark setup: condition not reached")
        time.sleep(step)
    return value


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on sorted values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = [f"\n### {title}\n", "| " + " | ".join(header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


@dataclass
class Bench:
    """Shared by all benchmarks: a temp dir, the fake upstream, the CLI and its HOME."""

    claude_bin: str
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cmapi-bench-")))
    upstream: subprocess.Popen[bytes] | None = None
    upstream_url: str = ""

    def __enter__(self) -> Bench:
        port = free_port()
        self.upstream = subprocess.Popen(
            [sys.executable, "-m", "conformance.fake_anthropic", "--port", str(port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.upstream_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{self.upstream_url}/v1/models"))
        (self.tmp / "home").mkdir()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.upstream is not None:
            self.upstream.terminate()
            self.upstream.wait(10)

    def cli_env(self, tmpdir: Path | None = None) -> dict[str, str]:
        extra = {
            "ANTHROPIC_BASE_URL": self.upstream_url,
            "ANTHROPIC_API_KEY": "sk-bench",
            "HOME": str(self.tmp / "home"),
        }
        return child_env(os.environ, extra, tmpdir=str(tmpdir) if tmpdir else None)

    def direct_ttft(self, prompt: str, model: str = "opus", system: str | None = None) -> float:
        """Run the CLI directly as the proxy would: seconds from spawn to its first
        text_delta line (read the same way the proxy reads it: line by line from a pipe).
        `system` goes in a file, `--system-prompt-file`."""
        run = Path(tempfile.mkdtemp(dir=self.tmp))
        (run / "tmp").mkdir()
        system_file = None
        if system is not None:
            system_file = run / "system-prompt.txt"
            system_file.write_text(system, encoding="utf-8")
        argv = build_argv(self.claude_bin, model, tools="", system_prompt_file=system_file)
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=run,
            env=self.cli_env(run / "tmp"),
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(user_line(prompt))
        proc.stdin.flush()
        first = None
        for line in proc.stdout:
            if first is None and b'"text_delta"' in line:
                first = time.monotonic() - started
            if b'"result"' in line and json.loads(line).get("type") == "result":
                break
        proc.stdin.close()
        proc.stdout.read()
        proc.wait(30)
        if first is None:
            raise RuntimeError("direct CLI run printed no text")
        return first

    @contextlib.contextmanager
    def proxy(self, *flags: str) -> Iterator[Proxy]:
        """The proxy (one uvicorn worker) in its own process, traced."""
        port = free_port()
        work = Path(tempfile.mkdtemp(dir=self.tmp))
        trace = work / "trace.txt"
        env = {**self.cli_env(), "TMPDIR": str(work), "PYTHONPATH": str(REPO)}
        argv = [sys.executable, "-m", "conformance.bench_harness", "serve", str(trace)]
        popen = subprocess.Popen(
            [*argv, "--port", str(port), "--claude-bin", self.claude_bin, *flags],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proxy = Proxy(popen, f"http://127.0.0.1:{port}", work, trace)
        try:
            wait_for(lambda: _answers(f"{proxy.url}/health") or popen.poll() is not None)
            if popen.poll() is not None:
                raise RuntimeError("the proxy did not start")
            yield proxy
        finally:
            proxy.stop()


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=1).status_code == 200
    return False


@dataclass
class Proxy:
    popen: subprocess.Popen[bytes]
    url: str
    work: Path
    trace_path: Path

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=10).json()

    def clis(self) -> list[psutil.Process]:
        """Live CLI processes this proxy started, wherever they were reparented."""
        out = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if proc.status() == psutil.STATUS_ZOMBIE or "stream-json" not in proc.cmdline():
                    continue
                if Path(proc.cwd()).is_relative_to(self.work):
                    out.append(proc)
        return out

    def rss(self) -> tuple[int, int]:
        """(the proxy's own RSS, RSS of the proxy and all its descendants) in bytes."""
        me = psutil.Process(self.popen.pid)
        own = me.memory_info().rss
        total = own
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return own, total

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)  # a clean exit: atexit flushes the trace
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)

    def trace(self) -> list[tuple[float, str, int, str]]:
        """(time, what, pid, line) records; complete once the proxy has stopped."""
        out = []
        for raw in self.trace_path.read_text().splitlines():
            at, what, pid, line = [*raw.split(" ", 3), ""][:4]
            out.append((float(at), what, int(pid), line))
        return out


def delta_text(line: str) -> str | None:
    """The text of a stream-json text_delta line, else None."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        obj = json.loads(line)
        delta = obj["event"]["delta"]
        if delta.get("type") == "text_delta":
            return delta["text"]
    return None


def _serve(argv: list[str]) -> None:
    """`serve TRACE_FILE <claude-max-api flags>`: the real server with a tracer."""
    from handlers.config.settings import settings_from_args
    from handlers.main import run_server

    trace_file = open(argv[0], "a", buffering=1 << 16)  # noqa: SIM115 (closed at exit)
    atexit.register(trace_file.close)

    def tracer(what: str, pid: int, line: bytes | None) -> None:
        if line is None:
            trace_file.write(f"{time.monotonic():.6f} {what} {pid} \n")
        elif b"text_delta" in line:
            text = line.decode("utf-8", "replace").rstrip("\n")
            trace_file.write(f"{time.monotonic():.6f} {what} {pid} {text}\n")

    settings = settings_from_args(["--log-level", "warning", *argv[1:]])
    run_server(replace(settings, tracer=tracer))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2:])


# --- measuring through the proxy (used by bench.py) ----------------------------------

COLD = ("--pool-size", "0", "--session-idle", "0")


def is_content(line: str) -> bool:
    return line.startswith("data: {") and '"content":"' in line and '"content":""' not in line


@dataclass
class Answer:
    sent: float  # when the client sent the request
    chunks: list[tuple[float, str]]  # (arrival, SSE line) of each content chunk

    @property
    def ttft(self) -> float:
        return self.chunks[0][0] - self.sent

    @property
    def text(self) -> str:
        return "".join(piece for _, piece in self.pieces())

    def pieces(self) -> list[tuple[float, str]]:
        return [(at, json.loads(c[5:])["choices"][0]["delta"]["content"]) for at, c in self.chunks]


def stream(client: httpx.Client, url: str, messages: list[dict], model: str = "opus") -> Answer:
    body = {"model": model, "messages": messages, "stream": True}
    answer = Answer(time.monotonic(), [])
    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            now = time.monotonic()  # before any parsing
            if is_content(line):
                answer.chunks.append((now, line))
    if not answer.chunks:
        raise RuntimeError("no content streamed")
    return answer


def turns_inside(trace: list[tuple[float, str, int, str]]) -> list[tuple[float, int, float]]:
    """(stdin write, pid, first text_delta line read after it) for each user turn written."""
    out: list[list] = []
    open_turn: dict[int, int] = {}
    for at, what, pid, _ in trace:
        if what == "write":
            open_turn[pid] = len(out)
            out.append([at, pid, None])
        elif what == "line" and pid in open_turn:
            out[open_turn.pop(pid)][2] = at
    return [tuple(turn) for turn in out]  # type: ignore[misc]


def added_inside(answers: list[Answer], turns: list, starts: list[float]) -> dict[str, list]:
    """Proxy time on the TTFT path: request sent → CLI started (or input written to a warm
    or live one), and first delta read from the CLI → client has it."""
    before = [start - a.sent for a, start in zip(answers, starts, strict=True)]
    after = [a.chunks[0][0] - t[2] for a, t in zip(answers, turns, strict=True)]
    added = [b + c for b, c in zip(before, after, strict=True)]
    return {"before": before, "after": after, "added": added}


def inside_rows(inside: dict[str, list], start: str) -> list[list[str]]:
    return [
        ["added by the proxy, measured inside (median)", ms(median(inside["added"]), 2)],
        [f"… request sent → {start} (median)", ms(median(inside["before"]), 2)],
        [
            "… first delta read from the CLI → client has it (median)",
            ms(median(inside["after"]), 2),
        ],
    ]


def ms(seconds: float, digits: int = 0) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def wait_warm(proxy: Proxy, count: int = 1, settle: float = 1.5) -> None:
    deadline = time.monotonic() + 60
    while proxy.health()["pool"]["warm"] < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the pool did not refill")
        time.sleep(0.05)
    time.sleep(settle)  # a warm process has normally waited longer than this
