"""API-key checks, the bind rule, the Host allow-list, opt-in warnings and argv refusals."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.datastructures import Headers

from cli_bridge.protocol.argv import build_argv
from handlers import security
from handlers.config.settings import Settings

KEY = "sk-proxy-0123456789"


def headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


def test_presented_keys_reads_bearer_and_x_api_key():
    assert security.presented_keys(headers(authorization=f"Bearer {KEY}")) == [KEY]
    assert security.presented_keys(headers(authorization=f"bearer   {KEY} ")) == [KEY]
    assert security.presented_keys(headers(x_api_key=KEY)) == [KEY]
    assert security.presented_keys(headers(authorization=f"Basic {KEY}")) == []
    assert security.presented_keys(headers(authorization="Bearer")) == []


def test_key_comparison():
    keys = (KEY, "sk-other-0123456789")
    assert security.key_is_valid(keys, KEY)
    assert security.key_is_valid(keys, "sk-other-0123456789")
    assert not security.key_is_valid(keys, KEY[:-1])
    assert not security.key_is_valid(keys, KEY + "x")
    assert not security.key_is_valid(keys, "")
    assert not security.key_is_valid((), KEY)
    assert not security.key_is_valid(keys, "ключ\udcff")  # odd text must not raise


def test_either_header_may_carry_the_valid_key():
    keys = (KEY,)
    assert security.has_valid_key(keys, headers(authorization="Bearer wrong", x_api_key=KEY))
    assert not security.has_valid_key(keys, headers(authorization="Bearer wrong"))


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/ui/", "/ui/index.html"])
def test_open_paths(path):
    assert not security.needs_key(path)


@pytest.mark.parametrize(
    "path", ["/v1/models", "/v1/chat/completions", "/metrics", "/nope", "//v1", "/uix"]
)
def test_everything_else_needs_the_key(path):
    assert security.needs_key(path)


def test_connexion_info_functions_recheck_a_presented_key():
    def request(keys):
        return SimpleNamespace(
            state=SimpleNamespace(proxy=SimpleNamespace(settings=Settings(api_keys=keys)))
        )

    assert security.bearer_info(KEY, request=request((KEY,))) == {"sub": "api-key"}
    assert security.bearer_info("wrong", request=request((KEY,))) is None
    assert security.apikey_info("wrong", request=request((KEY,))) is None
    assert security.bearer_info("anything", request=request(())) == {"sub": "anonymous"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"])
def test_loopback_binds_need_no_key(host):
    assert security.is_loopback(host)
    assert security.refusals(Settings(host=host)) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "myhost.lan"])
def test_other_binds_need_a_key(host):
    (problem,) = security.refusals(Settings(host=host))
    assert host in problem and "API key" in problem
    assert security.refusals(Settings(host=host, api_keys=(KEY,))) == []


def test_default_allowed_hosts():
    hosts = security.allowed_hosts(Settings())
    assert hosts[:3] == ["localhost", "127.0.0.1", "[::1]"]
    assert "evil.example" not in hosts
    extra = security.allowed_hosts(Settings(host="10.1.2.3", allowed_hosts=("proxy.lan",)))
    assert "10.1.2.3" in extra and "proxy.lan" in extra
    assert "[fd00::1]" in security.allowed_hosts(Settings(host="fd00::1"))


def test_wildcard_bind_allows_this_machines_names():
    hosts = security.allowed_hosts(Settings(host="0.0.0.0", api_keys=(KEY,)))
    assert "0.0.0.0" not in hosts
    assert set(security.machine_names()) <= set(hosts)


def test_startup_warnings_name_every_opt_in(tmp_path):
    assert security.startup_warnings(Settings()) == []
    warnings = "\n".join(
        security.startup_warnings(
            Settings(claude_tools="Read,Grep", workdir=tmp_path, cors_origins=("http://a.b",))
        )
    )
    assert "tools ENABLED (Read,Grep)" in warnings
    assert str(tmp_path) in warnings
    assert "CORS enabled for: http://a.b" in warnings


@pytest.mark.parametrize("kwargs", [{"cli_model": "--tools"}, {"cli_model": "-p"}])
def test_argv_refuses_flag_like_model(kwargs):
    with pytest.raises(ValueError):
        build_argv("claude", **kwargs)


def test_argv_refuses_flag_like_tools():
    with pytest.raises(ValueError):
        build_argv("claude", "opus", tools="--dangerously-skip-permissions")


def test_argv_defaults_are_sandboxed():
    argv = build_argv("claude", "opus")
    assert argv[argv.index("--tools") + 1] == ""
    assert argv[argv.index("--setting-sources") + 1] == ""
    assert "--strict-mcp-config" in argv and "--no-session-persistence" in argv
    assert not any("dangerously" in a or "bypassPermissions" in a for a in argv)


def test_cli_never_inherits_the_proxy_keys():
    from cli_bridge.protocol.environment import child_env

    env = child_env({"CLAUDE_PROXY_API_KEYS": KEY, "HOME": "/h"}, {})
    assert "CLAUDE_PROXY_API_KEYS" not in env
    assert env["HOME"] == "/h"
