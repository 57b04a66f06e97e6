"""Fixtures of the conformance suite: the replay CLI installed from a freshly built wheel, and
proxies that drive it (so thousands of chat requests never spawn the real CLI)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from conformance.fake_anthropic import fake_directive
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    (built,) = out.glob("claude_max_api_proxy-*.whl")
    return built


@pytest.fixture(scope="session")
def replay_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`claude-max-api-replay` as `pip install` of the wheel gives it, in a fresh venv.

    The replay CLI needs only the standard library, so the wheel goes in without its deps.
    """
    venv = tmp_path_factory.mktemp("replay-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    return str(venv / "bin" / "claude-max-api-replay")


@pytest.fixture(scope="session")
def replay_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLAUDE_REPLAY_LOG of the replay proxies: one JSON line per CLI turn."""
    return tmp_path_factory.mktemp("replay-log") / "turns.jsonl"


@pytest.fixture(scope="session")
def replay_settings(base_settings: Settings, replay_bin: str, replay_log: Path) -> Settings:
    return replace(
        base_settings,
        claude_bin=replay_bin,
        request_timeout=30,
        stall_timeout=2.0,  # the `hang` scenario stalls until killed
        cli_env={**base_settings.cli_env, "CLAUDE_REPLAY_LOG": str(replay_log)},
    )


@pytest.fixture(scope="session")
def replay_proxy(replay_settings: Settings) -> Iterator[RunningProxy]:
    with serve(replay_settings) as running:
        yield running


# The `plain` scenario's answer; the real CLI gets the same from the fake upstream's directive.
PLAIN_REPLY = "Hello! How can I help you today?"


def prompt_for(text: str, scenario: str, **directive: object) -> str:
    """A prompt that makes both backends behave alike: the fake upstream follows `directive`
    (real CLI), the replay CLI plays `scenario`."""
    return f"{text} {fake_directive(**directive)} [[replay:{scenario}]]"


@pytest.fixture(scope="session", params=["real_cli", "replay"])
def backend(request: pytest.FixtureRequest) -> RunningProxy:
    """The proxy driving the real CLI (against the fake upstream), then the replay CLI."""
    return request.getfixturevalue("proxy" if request.param == "real_cli" else "replay_proxy")
