"""The operator commands from an installed wheel (not the source tree): `doctor` and
`install-service --dry-run` work, with the installed command's absolute path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install` of a freshly built wheel into a private directory; its dependencies come
    from the running interpreter, which is what the console script's shebang names."""
    base = tmp_path_factory.mktemp("fresh")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = (base / "dist").glob("*.whl")
    site = base / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300
    )
    return site


def run(
    installed: Path, tmp_path: Path, claude_bin: str, *args: str
) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": f"{Path(claude_bin).parent}:/usr/bin:/bin",  # `claude` found on PATH
        "PYTHONPATH": str(installed),
        "ANTHROPIC_API_KEY": "sk-test-not-real",
    }
    script = installed / "bin" / "claude-max-api"
    return subprocess.run(
        [str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_doctor_from_a_fresh_install(installed, tmp_path, claude_bin):
    done = run(installed, tmp_path, claude_bin, "doctor", "--port", str(free_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok    claude CLI      {Path(claude_bin).parent}/claude" in done.stdout
    assert "CLI version     2.1.332" in done.stdout
    assert "0 problem(s)" in done.stdout


def test_install_service_dry_run_from_a_fresh_install(installed, tmp_path, claude_bin):
    done = run(installed, tmp_path, claude_bin, "install-service", "--dry-run", "--kind", "systemd")
    assert done.returncode == 0, done.stderr
    exec_start = next(x for x in done.stdout.splitlines() if x.startswith("ExecStart="))
    assert exec_start.startswith(f'ExecStart="{installed / "bin" / "claude-max-api"}"')
    assert f'"--claude-bin" "{Path(claude_bin).parent}/claude"' in exec_start
    assert not (tmp_path / "home" / ".config").exists()


def test_usage_errors_and_legacy_port_from_a_fresh_install(installed, tmp_path, claude_bin):
    done = run(installed, tmp_path, claude_bin, "8080", "--host", "0.0.0.0")  # legacy port
    assert done.returncode == 2
    assert "Refusing to listen on 0.0.0.0" in done.stderr
    port = str(free_port())
    done = run(installed, tmp_path, claude_bin, "doctor", port)
    assert f"127.0.0.1:{port} is free" in done.stdout
    done = run(installed, tmp_path, claude_bin, "--help")
    assert done.returncode == 0
    assert "--api-key" in done.stdout and "install-service" in done.stdout
