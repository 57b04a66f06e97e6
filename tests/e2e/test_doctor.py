"""`claude-max-api doctor` against the real CLI: each check's line, fix hint and exit code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from handlers.commands import doctor
from tests.conftest import free_port


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """A fresh user: empty HOME, not logged in."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "PATH": os.environ["PATH"]}


def run(capsys, environ, *argv: str) -> tuple[int, str]:
    code = doctor.main(list(argv), environ)
    return code, capsys.readouterr().out


def line(out: str, name: str) -> str:
    return next(x for x in out.splitlines() if x[6:].startswith(name + " "))


def test_healthy_setup(capsys, environ, claude_bin):
    environ["ANTHROPIC_API_KEY"] = "sk-test-not-real"
    code, out = run(capsys, environ, "--claude-bin", claude_bin, "--port", str(free_port()))
    assert code == 0, out
    assert line(out, "claude CLI").startswith("ok") and claude_bin in out
    assert line(out, "CLI version").split()[-1] == doctor.TESTED_CLI_VERSION
    assert line(out, "logged in").startswith("warn")  # an API key is not the subscription
    assert "ANTHROPIC_API_KEY" in line(out, "logged in")
    assert line(out, "CLI config dir").endswith(str(Path(environ["HOME"]) / ".claude"))
    assert line(out, "data dir").startswith("ok")
    assert "is free" in line(out, "port")
    assert "sk-test-not-real" not in out
    assert out.rstrip().endswith("0 problem(s), 1 warning(s)")


def test_not_logged_in(capsys, environ, claude_bin):
    code, out = run(capsys, environ, "--claude-bin", claude_bin, "--port", str(free_port()))
    assert code == 1
    assert line(out, "logged in").startswith("FAIL")
    assert "fix: run `claude auth login`" in out


def test_missing_cli(capsys, environ, tmp_path):
    code, out = run(capsys, environ, "--claude-bin", str(tmp_path / "claude"))
    assert code == 1
    assert line(out, "claude CLI").startswith("FAIL")
    assert "npm install -g @anthropic-ai/claude-code@2.1.332" in out


def test_port_in_use(capsys, environ, claude_bin):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = run(capsys, environ, "--claude-bin", claude_bin, "--port", str(port))
    assert code == 1
    assert line(out, "port").startswith("FAIL")
    assert "in use by another program" in out and "--port" in out


def test_a_running_proxy_on_the_port_is_recognised(capsys, environ, claude_bin, proxy):
    environ["ANTHROPIC_API_KEY"] = "sk-test-not-real"
    port = str(proxy.settings.port)
    code, out = run(capsys, environ, "--claude-bin", claude_bin, "--port", port)
    assert code == 0
    assert "a Claude Max API Proxy" in line(out, "port") and "already running" in out


def test_open_bind_without_key_fails(capsys, environ, claude_bin):
    environ["ANTHROPIC_API_KEY"] = "sk-test-not-real"
    code, out = run(capsys, environ, "--claude-bin", claude_bin, "--host", "0.0.0.0", "--port", "0")
    assert code == 1
    assert line(out, "bind").startswith("FAIL")
    assert "Refusing to listen on 0.0.0.0" in out


def test_hanging_cli_does_not_hang_doctor(capsys, environ, tmp_path, monkeypatch):
    fake = tmp_path / "claude"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "9.9.9 (Claude Code)"; exit 0; fi\n'
        "sleep 300 &\n"  # a grandchild holding stdout open, as a stuck CLI might
        "exec sleep 300\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(doctor, "CLI_TIMEOUT", 1.0)
    code, out = run(capsys, environ, "--claude-bin", str(fake), "--port", str(free_port()))
    assert code == 1
    assert line(out, "CLI version").startswith("warn")  # not the tested version
    assert "9.9.9" in out
    assert "hung for 1 s" in line(out, "logged in")


def test_replay_cli_says_it_has_no_auth_status(capsys, environ):
    code, out = run(capsys, environ, "--claude-bin", "claude-max-api-replay", "--port", "0")
    assert code == 0, out
    assert line(out, "claude CLI").endswith("/claude-max-api-replay")  # found beside Python
    logged_in = line(out, "logged in")
    assert logged_in.startswith("warn") and "has no `auth status`" in logged_in
    assert "usage:" not in out and "could not tell" not in out


def test_missing_cli_hint_names_the_node_version(capsys, environ, tmp_path):
    _, out = run(capsys, environ, "--claude-bin", str(tmp_path / "claude"))
    assert "needs Node.js 22 or newer" in out


def test_settings_line_shows_what_differs_from_the_defaults(capsys, environ, claude_bin):
    environ["CLAUDE_PROXY_POOL_SIZE"] = "0"
    key = "sk-proxy-0123456789"
    _, out = run(capsys, environ, "--claude-bin", claude_bin, "--port", "0", "--api-key", key)
    settings = line(out, "settings")
    assert "--port 0" in settings and "--pool-size 0" in settings
    assert "--api-key 1 set" in settings and key not in out


def test_doctor_help_is_its_own(capsys, environ):
    with pytest.raises(SystemExit) as done:
        doctor.main(["--help"], environ)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: claude-max-api doctor ")
    assert "Check that everything is in place" in out and "--claude-bin" in out
