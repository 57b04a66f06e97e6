"""The flag table is the one declaration of every setting: parser, environment, --help,
Settings' and BridgeConfig's defaults all agree with it."""

from __future__ import annotations

import dataclasses

import pytest

from cli_bridge import BridgeConfig
from cli_bridge.catalogue import Catalogue
from cli_bridge.engine.retry import RetryPolicy
from cli_bridge.engine.scheduler import default_max_concurrency
from handlers.config import flags
from handlers.config.settings import Settings, settings_from_args

KEY = "sk-proxy-0123456789"

# Settings field -> the BridgeConfig value it becomes (Settings.bridge_config()).
SHARED = {
    "claude_bin": lambda b: b.claude_bin,
    "request_timeout": lambda b: b.request_timeout,
    "stall_timeout": lambda b: b.stall_timeout,
    "debug": lambda b: b.debug,
    "claude_tools": lambda b: b.tools,
    "workdir": lambda b: b.workdir,
    "max_queue": lambda b: b.max_queue,
    "pool_size": lambda b: b.pool_size,
    "pool_idle": lambda b: b.pool_idle,
    "session_idle": lambda b: b.session_idle,
    "upstream_retries": lambda b: b.retry.upstream_retries,
    "rate_limit_retries": lambda b: b.retry.rate_limit_retries,
    "retry_backoff": lambda b: b.retry.backoff,
}


def test_every_flag_is_a_settings_field_once():
    names = {f.name for f in dataclasses.fields(Settings)}
    fields = [f.field for f in flags.FLAGS]
    assert len(set(fields)) == len(fields)
    assert set(fields) <= names
    assert len({f.flag for f in flags.FLAGS}) == len({f.env for f in flags.FLAGS}) == len(fields)


def test_settings_defaults_are_the_table_defaults():
    plain = Settings()
    parsed = settings_from_args([], {})
    for f in flags.FLAGS:
        assert getattr(plain, f.field) == f.value(), f.flag
        assert getattr(parsed, f.field) == f.value(), f.flag


@pytest.mark.parametrize("field", sorted(SHARED))
def test_bridge_config_defaults_equal_the_table(field):
    assert SHARED[field](BridgeConfig()) == flags.default(field)
    assert SHARED[field](Settings().bridge_config()) == flags.default(field)


def test_bridge_config_auto_values_equal_the_table():
    assert flags.default("max_concurrency") == 0  # 0 = auto
    assert BridgeConfig().max_concurrency == default_max_concurrency()
    assert Settings().bridge_config().max_concurrency == BridgeConfig().max_concurrency
    pool = Catalogue({}).lookup(flags.default("pool_model"))
    assert pool is not None and BridgeConfig().pool_model == pool.cli_model
    assert BridgeConfig().retry == RetryPolicy()


def test_help_lists_every_flag_with_its_variable(capsys):
    with pytest.raises(SystemExit) as done:
        settings_from_args(["--help"], {})
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: claude-max-api ")
    for f in flags.FLAGS:
        assert f.flag in out and f.env in out


@pytest.mark.parametrize("f", [f for f in flags.FLAGS if not f.switch], ids=lambda f: f.flag)
def test_every_variable_is_read(f):
    """Each variable reaches its field: its own default text parses to the default."""
    s = settings_from_args([], {f.env: f.default})
    assert getattr(s, f.field) == f.value()


@pytest.mark.parametrize(
    ("var", "value", "field", "expected"),
    [
        ("CLAUDE_PROXY_MAX_QUEUE", "7", "max_queue", 7),
        ("CLAUDE_PROXY_POOL_SIZE", "0", "pool_size", 0),
        ("CLAUDE_PROXY_SESSION_IDLE", "1.5", "session_idle", 1.5),
        ("CLAUDE_PROXY_LOG_FORMAT", "json", "log_format", "json"),
        ("CLAUDE_PROXY_CLAUDE_TOOLS", "Read", "claude_tools", "Read"),
    ],
)
def test_environment_sets_the_field(var, value, field, expected):
    assert getattr(settings_from_args([], {var: value}), field) == expected


@pytest.mark.parametrize(
    ("flag", "var"),
    [
        ("--api-key", "CLAUDE_PROXY_API_KEYS"),
        ("--allowed-host", "CLAUDE_PROXY_ALLOWED_HOSTS"),
        ("--cors-origin", "CLAUDE_PROXY_CORS_ORIGINS"),
        ("--model", "CLAUDE_PROXY_MODELS"),
    ],
)
def test_repeatable_flags_add_to_their_variable(flag, var):
    f = next(f for f in flags.FLAGS if f.flag == flag)
    assert f.repeatable
    one, two, three = {
        "--api-key": (KEY + "a", KEY + "b", KEY + "c"),
        "--allowed-host": ("a.lan", "b.lan", "c.lan"),
        "--cors-origin": ("http://a.lan", "http://b.lan", "http://c.lan"),
        "--model": ("a=opus", "b=sonnet", "c=haiku"),
    }[flag]
    s = settings_from_args([flag, two, flag, three], {var: one})
    value = getattr(s, f.field)
    assert len(value) == 3 and value == f.parse(f"{one},{two},{three}")


def test_a_bad_variable_names_its_flag_and_variable(capsys):
    with pytest.raises(SystemExit) as done:
        settings_from_args([], {"CLAUDE_PROXY_POOL_IDLE": "-1"})
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "--pool-idle (from CLAUDE_PROXY_POOL_IDLE): must be >= 0" in err


def test_a_bad_key_from_the_variable_is_not_echoed(capsys):
    with pytest.raises(SystemExit):
        settings_from_args([], {"CLAUDE_PROXY_API_KEYS": "tiny-secret"})
    err = capsys.readouterr().err
    assert "API key #1 is unusable" in err and "tiny-secret" not in err


def test_changed_lists_non_defaults_and_hides_keys():
    s = settings_from_args(["--pool-size", "0", "--api-key", KEY, "--debug"], {})
    values = {f.field: getattr(s, f.field) for f in flags.FLAGS}
    assert flags.changed(values) == ["--debug on", "--pool-size 0", "--api-key 1 set"]
    assert flags.changed({f.field: f.value() for f in flags.FLAGS}) == []


def test_help_text_survives_percent_signs(capsys):
    assert any("%" in f.help for f in flags.FLAGS)  # argparse would choke on a bare one
    with pytest.raises(SystemExit):
        flags.build_parser().parse_args(["--help"])
    assert "±20 % jitter" in " ".join(capsys.readouterr().out.split())


def test_markdown_flag_prints_the_table(capsys):
    assert flags.main(["--markdown"]) == 0
    assert capsys.readouterr().out.strip() == flags.markdown()
    assert flags.main([]) == 2
