"""`claude-max-api install-service`: unit / LaunchAgent contents, secrets kept out of output
and command lines, files written only without --dry-run."""

from __future__ import annotations

import plistlib
import stat
from pathlib import Path

import pytest

from handlers.commands import service

KEY = "sk-proxy-0123456789"


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text("#!/bin/sh\necho '2.1.332 (Claude Code)'\n")
    claude.chmod(0o755)
    return {
        "HOME": str(tmp_path / "home"),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CLAUDE_PROXY_API_KEYS": KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "UNRELATED": "not carried",
    }


def run(capsys, environ, *argv: str) -> str:
    assert service.main(list(argv), environ) == 0
    out = capsys.readouterr()
    return out.out + out.err


def test_systemd_dry_run_prints_and_writes_nothing(capsys, environ):
    out = run(
        capsys,
        environ,
        "--dry-run",
        "--kind",
        "systemd",
        "--port",
        "4000",
        "--api-key",
        "sk-second-0123456789",
    )
    home = Path(environ["HOME"])
    unit = home / ".config/systemd/user/claude-max-api.service"
    assert f"# Would write {unit} (mode 644)" in out
    assert not unit.exists() and not (home / ".config").exists()
    exec_start = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    claude = str(Path(environ["PATH"].split(":")[0]) / "claude")
    assert '"--port" "4000"' in exec_start
    assert f'"--claude-bin" "{claude}"' in exec_start
    assert Path(exec_start.split('"')[1]).is_absolute()
    assert 'Environment="ANTHROPIC_BASE_URL=http://127.0.0.1:9"' in out
    assert "UNRELATED" not in out
    assert KEY not in out and "sk-second" not in out
    assert "CLAUDE_PROXY_API_KEYS=********" in out
    assert "systemctl --user enable --now claude-max-api.service" in out
    assert "loginctl enable-linger" in out


def test_systemd_install_writes_unit_and_private_env_file(capsys, environ):
    out = run(capsys, environ, "--kind", "systemd", "--api-key", "sk-second-0123456789")
    config = Path(environ["HOME"]) / ".config"
    unit = config / "systemd/user/claude-max-api.service"
    env_file = config / "claude-max-api/service.env"
    assert f"# Wrote {unit}" in out
    assert "sk-" not in unit.read_text()
    assert f"EnvironmentFile=-{env_file}" in unit.read_text()
    assert env_file.read_text() == f"CLAUDE_PROXY_API_KEYS={KEY},sk-second-0123456789\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert KEY not in out


def test_launchd_plist(capsys, environ):
    out = run(capsys, environ, "--dry-run", "--kind", "launchd", "--host", "0.0.0.0")
    shown = out[out.index("<?xml") : out.index("</plist>") + len("</plist>")]
    plist = plistlib.loads(shown.encode())
    assert plist["Label"] == "local.claude-max-api"
    assert plist["ProgramArguments"][-4:-2] == ["--host", "0.0.0.0"]
    assert plist["EnvironmentVariables"]["CLAUDE_PROXY_API_KEYS"] == "********"
    assert plist["RunAtLoad"] is True
    assert "launchctl bootstrap gui/$(id -u)" in out
    path = Path(environ["HOME"]) / "Library/LaunchAgents/local.claude-max-api.plist"
    assert not path.exists()

    run(capsys, environ, "--kind", "launchd")
    written = plistlib.loads(path.read_bytes())
    assert written["EnvironmentVariables"]["CLAUDE_PROXY_API_KEYS"] == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_refuses_a_service_that_could_not_start(environ):
    del environ["CLAUDE_PROXY_API_KEYS"]
    with pytest.raises(SystemExit) as exc:
        service.main(["--dry-run", "--host", "0.0.0.0"], environ)
    assert "Refusing to listen on 0.0.0.0" in str(exc.value.code)


def test_missing_cli_is_reported(capsys, environ):
    environ["PATH"] = "/nonexistent"
    out = run(capsys, environ, "--dry-run", "--kind", "systemd")
    assert "Claude CLI 'claude' was not found" in out


def test_systemd_quoting():
    assert service.systemd_quote('a "b" $X 100%') == '"a \\"b\\" $$X 100%%"'
