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
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
    )
    port = free_port()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    server = subprocess.Popen(
        [str(venv / "bin" / "claude-max-api"), "--port", str(port), "--claude-bin", "missing-x"],
        cwd=outside,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "installed server did not start"
                time.sleep(0.2)
        contract.check(health)
        assert health.json()["cli"]["found"] is False
        assert health.json()["version"] != "0.0.0+source"
        models = httpx.get(f"{base}/v1/models")
        contract.check(models)
        assert "claude-opus-4" in [m["id"] for m in models.json()["data"]]
        assert httpx.get(f"{base}/openapi.json").json()["openapi"].startswith("3.0")
    finally:
        server.terminate()
        server.wait(10)
