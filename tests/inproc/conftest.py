"""The in-process tier: the whole app (lifespan, middleware, routing, validation, handlers)
called through starlette's TestClient, with no server, no socket and no warm processes.

A handler that needs a CLI answer gets one from the replay CLI (`claude-max-api-replay`, the
console script of this checkout), so these tests never start Node. What only a real server or
the real CLI shows (streaming over a socket, disconnects, process hygiene, retries, shutdown)
stays in tests/e2e. The contract guard validates every response of these clients too.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import openai
import pytest
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.config.settings import Settings
from handlers.state import AppState
from tests.conftest import wait_no_cli_children

REPLAY_BIN = str(Path(sysconfig.get_path("scripts")) / "claude-max-api-replay")
# The Host a local client sends (the Host guard refuses TestClient's default "testserver").
BASE_URL = "http://127.0.0.1:3456"
_numbers = itertools.count()


@dataclass
class InProcessProxy:
    client: TestClient
    settings: Settings
    state: AppState

    def sdk(self, api_key: str = "sk-anything") -> openai.OpenAI:
        """The openai SDK, sending through this proxy's in-process client."""
        return openai.OpenAI(
            base_url=f"{BASE_URL}/v1", api_key=api_key, max_retries=0, http_client=self.client
        )


@contextlib.contextmanager
def in_process(settings: Settings) -> Iterator[InProcessProxy]:
    """The app with its lifespan running (the bridge started, the CLI probed)."""
    # Each app its own runtime dir: its lifespan removes it on the way out.
    settings = replace(settings, runtime_dir=settings.runtime_dir / f"app-{next(_numbers)}")
    states: list[AppState] = []
    app = create_app(settings, on_ready=states.append)
    with TestClient(app, base_url=BASE_URL) as client:
        yield InProcessProxy(client, settings, states[0])


@pytest.fixture(scope="session")
def replay_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLAUDE_REPLAY_LOG of the in-process apps: one JSON line per CLI turn."""
    return tmp_path_factory.mktemp("inproc-replay") / "turns.jsonl"


@pytest.fixture(scope="session")
def app_settings(tmp_path_factory: pytest.TempPathFactory, replay_log: Path) -> Settings:
    assert Path(REPLAY_BIN).is_file(), f"{REPLAY_BIN} missing: `pip install -e .` installs it"
    return Settings(
        claude_bin=REPLAY_BIN,
        runtime_dir=tmp_path_factory.mktemp("inproc-runtime"),
        request_timeout=30,
        kill_grace=1.0,
        pool_size=0,  # no warm or parked processes: a CLI starts only for a turn
        session_idle=0,
        cli_env={"CLAUDE_REPLAY_LOG": str(replay_log)},
        data_dir=tmp_path_factory.mktemp("inproc-data"),  # never the user's data dir
    )


@pytest.fixture(scope="session")
def app(app_settings: Settings) -> Iterator[InProcessProxy]:
    """The default app: no keys, no CORS, default limits."""
    with in_process(app_settings) as running:
        yield running


@pytest.fixture
def client(app: InProcessProxy) -> TestClient:
    return app.client


def turns_with(replay_log: Path, marker: str) -> list[dict]:
    """The CLI turns whose prompt mentions `marker`."""
    if not replay_log.exists():
        return []
    turns = [json.loads(line) for line in replay_log.read_text().splitlines() if line]
    return [t for t in turns if marker in json.dumps(t)]


def assert_no_cli(replay_log: Path, marker: str) -> None:
    """No CLI ever got this request, and none is left running (one an earlier test started
    may still be on its way out)."""
    assert turns_with(replay_log, marker) == []
    assert wait_no_cli_children() == []
