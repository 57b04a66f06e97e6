"""Clean shutdown: `claude-max-api` as a real process, SIGTERM/SIGINT/SIGKILL, and proof
(psutil, by pid and by working directory) that no CLI process outlives it."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from tests.conftest import free_port
from tests.contract import Contract

REPO = Path(__file__).resolve().parents[2]


class ProxyProcess:
    def __init__(self, popen: subprocess.Popen[bytes], url: str, tmp: Path) -> None:
        self.popen, self.url, self.tmp = popen, url, tmp

    def clis(self) -> list[psutil.Process]:
        """Every live CLI process this proxy started, found by working directory (they
        run under the proxy's runtime dir inside our TMPDIR), wherever they were reparented."""
        out = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if proc.status() == psutil.STATUS_ZOMBIE or "stream-json" not in proc.cmdline():
                    continue
                if Path(proc.cwd()).is_relative_to(self.tmp):
                    out.append(proc)
        return out

    def sentinel(self) -> psutil.Process | None:
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                cmd = proc.cmdline()
                if cmd[-1:] and cmd[-1].endswith("reaper.py") and proc.ppid() == self.popen.pid:
                    return proc
        return None


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return value


@contextlib.contextmanager
def proxy_process(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp: Path, *flags: str
) -> Iterator[ProxyProcess]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TMPDIR": str(tmp),  # the runtime dir (and so every CLI's cwd) lands in here
        "ANTHROPIC_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": "sk-test-upstream",
        "HOME": str(cli_home),
    }
    argv = [sys.executable, "-m", "handlers.main", "--port", str(port), "--claude-bin", claude_bin]
    popen = subprocess.Popen(
        [*argv, "--log-level", "warning", *flags],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    running = ProxyProcess(popen, f"http://127.0.0.1:{port}", tmp)
    try:
        wait_for(lambda: _up(running) or popen.poll() is not None)
        assert popen.poll() is None, popen.stderr.read().decode() if popen.stderr else ""
        yield running
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait(30)
        for proc in running.clis():  # never leak into the next test, even on failure
            proc.kill()


def _up(running: ProxyProcess) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{running.url}/health", timeout=1).status_code == 200
    return False


def stream_chat(url: str, content: str) -> str:
    body = {"model": "opus", "messages": [{"role": "user", "content": content}], "stream": True}
    try:
        return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).text
    except httpx.HTTPError as exc:
        return f"<{type(exc).__name__}>"


def test_sigterm_finishes_in_flight_requests_then_leaves_no_cli(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp_path: Path, contract: Contract
):
    flags = ("--pool-size", "1", "--session-idle", "60", "--shutdown-timeout", "4")
    with (  # the proxy goes first on the way out, so a failure never waits on the threads
        concurrent.futures.ThreadPoolExecutor(2) as pool,
        proxy_process(claude_bin, upstream, cli_home, tmp_path, *flags) as proxy,
    ):
        # A conversation parked on a live process, and a warm process in the pool.
        r = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            json={"model": "opus", "messages": [{"role": "user", "content": "park me"}]},
            timeout=60,
        )
        contract.check(r)
        wait_for(lambda: httpx.get(f"{proxy.url}/health").json()["pool"]["warm"] == 1)
        slow = pool.submit(stream_chat, proxy.url, fake_directive(chunk_delay=0.25, n_chunks=8))
        hung = pool.submit(stream_chat, proxy.url, fake_directive(hang=True))
        wait_for(lambda: httpx.get(f"{proxy.url}/health").json()["queue"]["active"] == 2)
        # One of them took the warm process; the pool refills it shortly after.
        before = wait_for(lambda: len(proxy.clis()) == 4 and proxy.clis())  # warm, parked, 2 busy
        sentinel = proxy.sentinel()
        assert sentinel is not None

        started = time.monotonic()
        proxy.popen.send_signal(signal.SIGTERM)
        # Idle processes leave at once; busy ones keep going.
        wait_for(lambda: len(proxy.clis()) == 2, timeout=5)
        wait_for(lambda: not _up(proxy), timeout=2)  # no longer accepting
        proxy.popen.wait(30)
        elapsed = time.monotonic() - started

        text = slow.result()
        assert text.rstrip().endswith("data: [DONE]"), "the in-flight request finished"
        assert "error" not in text
        assert "[DONE]" not in hung.result(), "the hung one was cut at the deadline"
        assert 3.5 < elapsed < 15
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in before)
    assert proxy.clis() == []
    wait_for(lambda: not sentinel.is_running() or sentinel.status() == psutil.STATUS_ZOMBIE, 5)


def test_sigint_with_idle_processes_exits_fast_and_clean(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp_path: Path
):
    flags = ("--pool-size", "2", "--shutdown-timeout", "10")
    with proxy_process(claude_bin, upstream, cli_home, tmp_path, *flags) as proxy:
        wait_for(lambda: len(proxy.clis()) == 2)
        before = proxy.clis()
        started = time.monotonic()
        proxy.popen.send_signal(signal.SIGINT)
        assert proxy.popen.wait(15) == 0
        assert time.monotonic() - started < 5, "nothing in flight: no waiting for the deadline"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in before)
    assert proxy.clis() == []


def test_sigkill_of_the_proxy_still_leaves_no_cli(
    claude_bin: str, upstream: FakeAnthropic, cli_home: Path, tmp_path: Path
):
    with (
        concurrent.futures.ThreadPoolExecutor(1) as pool,
        proxy_process(claude_bin, upstream, cli_home, tmp_path, "--pool-size", "1") as proxy,
    ):
        hung = pool.submit(stream_chat, proxy.url, fake_directive(hang=True))
        wait_for(lambda: httpx.get(f"{proxy.url}/health").json()["queue"]["active"] == 1)
        wait_for(lambda: len(proxy.clis()) == 2)  # one busy, one warm
        proxy.popen.kill()  # no lifespan, no atexit: only the sentinel is left to act
        proxy.popen.wait(10)
        wait_for(lambda: proxy.clis() == [], timeout=10)
        assert hung.result().startswith("data:") or hung.result().startswith("<")


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys
    from cli_bridge.engine.reaper import OrphanGuard
    guard = OrphanGuard(sentinel=sys.argv[1] == "sentinel")
    guard.start()
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    guard.add(child.pid)
    print(child.pid, flush=True)
    if sys.argv[1] == "sentinel":
        os._exit(0)  # like SIGKILL: no atexit, no cleanup
    sys.exit(0)  # a plain exit: atexit must do it
    """
)


@pytest.mark.parametrize("path", ["sentinel", "atexit"])
def test_orphan_guard_kills_registered_groups_on_any_exit(path: str):
    out = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT, path],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    pid = int(out.stdout.strip())

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, timeout=5)
