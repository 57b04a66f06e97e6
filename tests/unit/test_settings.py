"""handlers.config.settings: flags, environment variables and their defaults."""

from __future__ import annotations

import pytest

from handlers.config.settings import Settings, settings_from_args


def test_defaults():
    s = settings_from_args([], {})
    assert isinstance(s, Settings)
    assert s.host == "127.0.0.1"
    assert s.port == 3456
    assert s.claude_bin == "claude"
    assert s.request_timeout == 900.0
    assert s.stall_timeout == 180.0  # generous but finite (README, Watchdogs)
    assert s.keepalive_interval == 15.0
    assert s.debug is False
    assert s.log_level == "info"
    assert s.models == {}


def test_flags():
    s = settings_from_args(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "8080",
            "--claude-bin",
            "/opt/claude",
            "--timeout",
            "30",
            "--stall-timeout",
            "5.5",
            "--keepalive",
            "2",
            "--debug",
            "--log-level",
            "debug",
        ],
        {},
    )
    assert (s.host, s.port, s.claude_bin) == ("0.0.0.0", 8080, "/opt/claude")
    assert (s.request_timeout, s.stall_timeout, s.keepalive_interval) == (30.0, 5.5, 2.0)
    assert s.debug is True
    assert s.log_level == "debug"


def test_environment_variables():
    s = settings_from_args(
        [],
        {
            "CLAUDE_PROXY_HOST": "::1",
            "CLAUDE_PROXY_PORT": "9000",
            "CLAUDE_BIN": "/usr/local/bin/claude",
            "DEBUG_SUBPROCESS": "true",
            "CLAUDE_PROXY_TIMEOUT": "60",
            "CLAUDE_PROXY_STALL_TIMEOUT": "10",
            "CLAUDE_PROXY_KEEPALIVE": "3",
            "CLAUDE_PROXY_LOG_LEVEL": "warning",
            "CLAUDE_PROXY_MODELS": "a=b,c=d",
        },
    )
    assert (s.host, s.port, s.claude_bin) == ("::1", 9000, "/usr/local/bin/claude")
    assert s.debug is True
    assert (s.request_timeout, s.stall_timeout, s.keepalive_interval) == (60.0, 10.0, 3.0)
    assert isinstance(s.port, int)
    assert isinstance(s.request_timeout, float)
    assert s.log_level == "warning"
    assert s.models == {"a": "b", "c": "d"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("YES", True), (" on ", True), ("false", False), ("", False)],
)
def test_debug_subprocess_values(value, expected):
    assert settings_from_args([], {"DEBUG_SUBPROCESS": value}).debug is expected


def test_flags_beat_environment():
    s = settings_from_args(
        ["--port", "1111", "--host", "10.0.0.1"],
        {"CLAUDE_PROXY_PORT": "9000", "CLAUDE_PROXY_HOST": "::1"},
    )
    assert (s.host, s.port) == ("10.0.0.1", 1111)


def test_legacy_positional_port():
    assert settings_from_args(["4000"], {}).port == 4000
    # the seed's positional port wins over --port and the environment
    assert settings_from_args(["4000", "--port", "5000"], {"CLAUDE_PROXY_PORT": "6"}).port == 4000


def test_model_mappings_from_flags_and_environment():
    s = settings_from_args(
        ["--model", "mine=claude-opus-5-5", "--model", "x=sonnet,y=haiku"],
        {"CLAUDE_PROXY_MODELS": "env-model=opus"},
    )
    assert s.models == {
        "env-model": "opus",
        "mine": "claude-opus-5-5",
        "x": "sonnet",
        "y": "haiku",
    }


def test_repeated_parses_do_not_share_model_lists():
    settings_from_args(["--model", "a=b"], {})
    assert settings_from_args([], {}).models == {}


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "nonsense"],
        ["--model", "a="],
        ["--model", "=b"],
        ["--model", "x=--tools"],  # flag-like CLI value: refused at startup, not at app build
        ["--model", "x=-x"],
        ["--model", "x=has space"],
        ["--port", "http"],
        ["--timeout", "soon"],
        ["not-a-port"],
    ],
)
def test_bad_arguments_exit(argv, capsys):
    with pytest.raises(SystemExit) as info:
        settings_from_args(argv, {})
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "environ",
    [
        {"CLAUDE_PROXY_PORT": "abc"},
        {"CLAUDE_PROXY_TIMEOUT": "ten"},
        {"CLAUDE_PROXY_STALL_TIMEOUT": "x"},
        {"CLAUDE_PROXY_KEEPALIVE": ""},
        {"CLAUDE_PROXY_MODELS": "broken"},
    ],
)
def test_bad_environment_exits_with_a_usage_error(environ, capsys):
    # a typo in the environment is a usage error (exit 2), not a ValueError traceback
    with pytest.raises(SystemExit) as info:
        settings_from_args([], environ)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bad_environment_is_ignored_when_the_flag_is_given():
    assert settings_from_args(["--port", "7"], {"CLAUDE_PROXY_PORT": "abc"}).port == 7


def test_bridge_config():
    s = settings_from_args(
        ["--claude-bin", "/b/claude", "--timeout", "12", "--stall-timeout", "3", "--debug"], {}
    )
    config = s.bridge_config()
    assert config.claude_bin == "/b/claude"
    assert config.request_timeout == 12.0
    assert config.stall_timeout == 3.0
    assert config.debug is True
    assert config.runtime_dir == s.runtime_dir
    assert config.tools == ""  # Claude Code's own tools stay off


@pytest.mark.parametrize("argv", [["--port", "99999"], ["--port", "-1"], ["70000"]])
def test_port_out_of_range_is_a_usage_error(argv):
    with pytest.raises(SystemExit) as caught:
        settings_from_args(argv, environ={})
    assert caught.value.code == 2


def _executable(folder, name: str):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_a_bare_cli_not_on_path_is_found_beside_the_interpreter(tmp_path, monkeypatch):
    replay = _executable(tmp_path / "venv-bin", "claude-max-api-replay")
    monkeypatch.setattr("sys.executable", str(tmp_path / "venv-bin" / "python"))
    monkeypatch.setattr("sys.argv", ["-c"])
    empty = {"PATH": str(tmp_path / "nowhere")}
    s = settings_from_args(["--claude-bin", "claude-max-api-replay"], empty)
    assert s.claude_bin == str(replay)
    assert s.bridge_config().claude_bin == str(replay)
    assert settings_from_args([], {**empty, "CLAUDE_BIN": "claude-max-api-replay"}).claude_bin == (
        str(replay)
    )


def test_a_bare_cli_is_found_beside_the_running_command(tmp_path, monkeypatch):
    command = _executable(tmp_path / "bin", "claude-max-api")
    replay = _executable(tmp_path / "bin", "claude-max-api-replay")
    monkeypatch.setattr("sys.argv", [str(command)])
    monkeypatch.setattr("sys.executable", str(tmp_path / "elsewhere" / "python"))
    s = settings_from_args(["--claude-bin", "claude-max-api-replay"], {"PATH": "/nonexistent"})
    assert s.claude_bin == str(replay)


def test_the_venv_replay_cli_is_found_without_activating_the_venv():
    s = settings_from_args(["--claude-bin", "claude-max-api-replay"], {"PATH": "/nonexistent"})
    assert s.claude_bin.startswith("/") and s.claude_bin.endswith("/claude-max-api-replay")


def test_a_bare_cli_on_path_or_missing_stays_as_given(tmp_path):
    _executable(tmp_path / "on-path", "my-claude")
    on_path = {"PATH": str(tmp_path / "on-path")}
    assert settings_from_args(["--claude-bin", "my-claude"], on_path).claude_bin == "my-claude"
    assert settings_from_args(["--claude-bin", "missing-x"], on_path).claude_bin == "missing-x"


def test_a_relative_cli_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the CLI itself runs in another directory
    s = settings_from_args(["--claude-bin", "bin/claude"], {})
    assert s.claude_bin == str(tmp_path / "bin" / "claude")
