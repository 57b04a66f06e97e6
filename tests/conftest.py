"""Shared fixtures: the pinned real CLI, the fake Anthropic upstream, and the proxy on uvicorn.

Every HTTP response from a proxy started by `serve()`, or called in-process (tests/inproc), is
validated against openapi.yaml by the autouse fixtures of tests/contract_guard.py, whatever
client the test used.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import openai
import psutil
import pytest
import uvicorn

from conformance.cli_install import ensure_claude
from conformance.fake_anthropic import FakeAnthropic
from handlers.app import create_app
from handlers.config.settings import Settings
from handlers.state import AppState
from tests.contract import Contract
from tests.contract_guard import _contract_patches, contract_guard, unwatch, watch

__all__ = ["_contract_patches", "contract_guard"]  # autouse: every proxy response is validated


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


@pytest.fixture(scope="session")
def claude_bin() -> str:
    return ensure_claude()


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningProxy:
    url: str
    settings: Settings
    server: uvicorn.Server
    state: AppState | None = None  # the app's live state (bridge, pool, ...) for inspection

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[RunningProxy]:
    """The real app on uvicorn, on a free 127.0.0.1 port, in a thread."""
    port = free_port()
    # Each proxy its own runtime dir: its lifespan removes it, and tests find its CLIs by cwd.
    runtime_dir = settings.runtime_dir / f"port-{port}"
    settings = replace(settings, host="127.0.0.1", port=port, runtime_dir=runtime_dir)
    states: list[AppState] = []
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, on_ready=states.append),
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("proxy did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{settings.port}"
    watch(url)
    try:
        state = states[0] if states else None
        yield RunningProxy(url, settings, server, state)
    finally:
        unwatch(url)
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="session")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="session")
def base_settings(
    claude_bin: str,
    upstream: FakeAnthropic,
    cli_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        claude_bin=claude_bin,
        runtime_dir=tmp_path_factory.mktemp("runtime") / "proxy",
        request_timeout=60,
        kill_grace=1.0,
        # The suite counts CLI processes: no warm or parked ones unless a test asks for them.
        pool_size=0,
        session_idle=0,
        retry_backoff=0.1,
        data_dir=tmp_path_factory.mktemp("data"),  # the response store: never the user's
        cli_env={
            "ANTHROPIC_BASE_URL": upstream.url,
            "ANTHROPIC_API_KEY": "sk-test-upstream",
            "HOME": str(cli_home),
            "CLAUDE_CODE_MAX_RETRIES": "0",
        },
    )


@pytest.fixture(scope="session")
def proxy(base_settings: Settings) -> Iterator[RunningProxy]:
    with serve(base_settings) as running:
        yield running


@pytest.fixture
def http(proxy: RunningProxy, contract: Contract) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=proxy.url, timeout=60, event_hooks={"response": [contract.hook]}
    ) as client:
        yield client


@pytest.fixture
def openai_client(proxy: RunningProxy, contract: Contract) -> Iterator[openai.OpenAI]:
    with httpx.Client(timeout=60, event_hooks={"response": [contract.hook]}) as client:
        yield openai.OpenAI(
            base_url=proxy.v1, api_key="sk-anything", max_retries=0, http_client=client
        )


@pytest.fixture
def marker() -> str:
    """A unique word to find this test's request in the upstream log."""
    return f"m{uuid.uuid4().hex[:10]}"


def upstream_requests(fake: FakeAnthropic, marker: str) -> list[dict]:
    """The upstream requests whose body mentions `marker`."""
    import json

    return [r for r in fake.requests if marker in json.dumps(r.get("body"))]


def cli_children(under: Path | None = None) -> list[psutil.Process]:
    """Live (non-zombie) claude processes started by this test process; with `under`, only
    those whose working directory is inside it (one proxy's runtime dir)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = child.cmdline()
            # Our CLI argv always carries stream-json (fake CLIs written by tests too); the
            # orphan sentinel and proxy subprocesses never do, whatever the checkout path.
            if child.status() == psutil.STATUS_ZOMBIE or "stream-json" not in cmdline:
                continue
            if under is None or Path(child.cwd()).is_relative_to(under):
                out.append(child)
    return out


def wait_no_cli_children(timeout: float = 10.0, under: Path | None = None) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := cli_children(under)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
