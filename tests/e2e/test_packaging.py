"""`pip install .` into a fresh venv outside the repo gives a working `claude-max-api`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.contract import Contract

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_spec_and_installs_a_working_command(tmp_path: Path, contract: Contract):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
    )
    (wheel,) = wheels.glob("claude_max_api_proxy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "handlers/openapi.yaml" in names
    assert "handlers/dashboard/static/index.html" in names  # the dashboard ships its page
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # As a user who has not activated the venv: its bin/ is not on PATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/bin:/bin"

    health, stderr = start(venv, outside, env, contract, "missing-x")
    assert health["cli"]["found"] is False
    assert health["version"] != "0.0.0+source"
    assert "Warning:" not in stderr  # e.g. StarletteDeprecationWarning: a missing dependency
    assert "needs Node.js 22 or newer" in stderr  # the install hint, once, with its version

    # The README's replay command works as written, found beside the installed proxy.
    health, stderr = start(venv, outside, env, contract, "claude-max-api-replay")
    assert health["cli"]["found"] is True, stderr
    assert health["status"] == "ok"


def start(
    venv: Path, cwd: Path, env: dict[str, str], contract: Contract, claude_bin: str
) -> tuple[dict, str]:
    """Start the installed proxy, check a few routes, stop it: (its /health, its stderr)."""
    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "claude-max-api"), "--port", str(port), "--claude-bin", claude_bin],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "installed server did not start"
                time.sleep(0.2)
        contract.check(health)
        models = httpx.get(f"{base}/v1/models")
        contract.check(models)
        assert "claude-opus-4" in [m["id"] for m in models.json()["data"]]
        assert httpx.get(f"{base}/openapi.json").json()["openapi"].startswith("3.0")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    return health.json(), stderr
