"""Safety flags and their environment variables, parsed once into Settings."""

from __future__ import annotations

import pytest

from handlers.config.settings import settings_from_args

KEY = "sk-proxy-0123456789"


def parse(*argv: str, **environ: str):
    return settings_from_args(list(argv), environ)


def test_defaults_are_the_safe_ones():
    s = parse()
    assert s.host == "127.0.0.1"
    assert s.api_keys == ()
    assert s.cors_origins == ()
    assert s.claude_tools == ""
    assert s.workdir is None
    assert s.bridge_config().tools == ""
    assert s.bridge_config().workdir is None
    assert s.log_format == "text"


def test_api_keys_from_flags_and_env_and_hidden_from_repr():
    s = parse("--api-key", KEY, CLAUDE_PROXY_API_KEYS=f"{KEY}x, {KEY}y")
    assert s.api_keys == (f"{KEY}x", f"{KEY}y", KEY)
    assert KEY not in repr(s)


@pytest.mark.parametrize("bad", ["short", "has space 12345678", "tab\t1234567890123"])
def test_unusable_key_is_a_usage_error_that_does_not_echo_it(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        parse("--api-key", bad)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "API key #1 is unusable" in err
    assert bad not in err


def test_legacy_positional_port_still_works_with_new_flags():
    s = parse("8080", "--api-key", KEY, "--log-format", "json")
    assert s.port == 8080
    assert s.log_format == "json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("default", "default"),
        ("Read, Grep", "Read,Grep"),
        ("Read Grep Read", "Read,Grep"),
    ],
)
def test_claude_tools(value, expected):
    s = parse("--enable-claude-tools", value)
    assert s.claude_tools == expected
    assert s.bridge_config().tools == expected


@pytest.mark.parametrize("value", ["--dangerously-skip-permissions", "Bash(rm -rf)", "-p"])
def test_flag_like_or_odd_tools_are_refused(value, capsys):
    with pytest.raises(SystemExit):
        parse(f"--enable-claude-tools={value}")
    assert "invalid Claude Code tool name" in capsys.readouterr().err


def test_tools_from_env():
    assert parse(CLAUDE_PROXY_CLAUDE_TOOLS="Read").claude_tools == "Read"


def test_workdir_must_exist(tmp_path):
    assert parse("--workdir", str(tmp_path)).bridge_config().workdir == tmp_path.resolve()
    with pytest.raises(SystemExit):
        parse("--workdir", str(tmp_path / "missing"))


def test_hosts_and_origins_are_normalised():
    s = parse(
        "--allowed-host", "Proxy.Example", "--allowed-host", "::1",
        CLAUDE_PROXY_ALLOWED_HOSTS="10.0.0.5,*.lan",
        CLAUDE_PROXY_CORS_ORIGINS="http://App.Example:8080/",
    )  # fmt: skip
    assert s.allowed_hosts == ("10.0.0.5", "*.lan", "proxy.example", "[::1]")
    assert s.cors_origins == ("http://app.example:8080",)


@pytest.mark.parametrize(
    "argv",
    [
        ["--allowed-host", "host.example:8080"],
        ["--allowed-host", "bad host"],
        ["--cors-origin", "app.example"],
        ["--cors-origin", "http://app.example/path"],
        ["--cors-origin", "*"],  # every web page, without a key
        ["--max-body-bytes", "0"],
        ["--log-format", "xml"],
    ],
)
def test_bad_values_are_usage_errors(argv):
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2


def test_wildcard_origin_is_allowed_with_a_key():
    assert parse("--cors-origin", "*", "--api-key", KEY).cors_origins == ("*",)


def test_limits_from_env():
    s = parse(
        CLAUDE_PROXY_MAX_BODY_BYTES="2048",
        CLAUDE_PROXY_MAX_MESSAGES="3",
        CLAUDE_PROXY_MAX_MESSAGE_CHARS="10",
    )
    assert (s.max_body_bytes, s.max_messages, s.max_message_chars) == (2048, 3, 10)


def test_bad_numeric_env_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        parse(CLAUDE_PROXY_MAX_MESSAGES="many")
    assert exc.value.code == 2
    assert "--max-messages" in capsys.readouterr().err
