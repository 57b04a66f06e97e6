"""Who may use the proxy: API keys, the bind-address rule, and what runs with more power.

Keys are enforced by `middleware/api_key.py`, an ASGI middleware in front of connexion:
connexion's own security check lets a request without credentials through whenever the
spec also allows anonymous access (`security: [..., {}]`), which it must while keys are
optional. The spec's `x-bearerInfoFunc` / `x-apikeyInfoFunc` below check a presented key a
second time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from connexion import request as current_request
from starlette.datastructures import Headers

if TYPE_CHECKING:
    from .config.settings import Settings

# Reachable without a key: liveness, the published contract, and the dashboard's static page
# (its login form; the numbers, /dashboard/status, need a key).
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/openapi.yaml", "/ui", "/dashboard"})
OPEN_PREFIXES = ("/ui/", "/dashboard/static/")
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


def presented_keys(headers: Headers) -> list[str]:
    """Credentials in a request: `Authorization: Bearer <key>` and/or `x-api-key: <key>`."""
    found = []
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found.append(token.strip())
    api_key = headers.get("x-api-key", "").strip()
    if api_key:
        found.append(api_key)
    return found


def key_is_valid(keys: Sequence[str], candidate: str) -> bool:
    """Constant-time comparison against every configured key (no early exit)."""
    given = candidate.encode("utf-8", "surrogateescape")
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(key.encode(), given)
    return ok


def has_valid_key(keys: Sequence[str], headers: Headers) -> bool:
    return any(key_is_valid(keys, c) for c in presented_keys(headers))


def key_id(key: str) -> str:
    """How a key is shown (dashboard, metrics history) and told apart (live processes): a
    digest, never the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def valid_key_id(keys: Sequence[str], headers: Headers) -> str | None:
    """The id of the configured key this request presented, or None."""
    for candidate in presented_keys(headers):
        if key_is_valid(keys, candidate):
            return key_id(candidate)
    return None


def needs_key(path: str) -> bool:
    return path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)


def _configured_keys(request: Any) -> tuple[str, ...] | None:
    proxy = getattr(getattr(request, "state", None), "proxy", None)
    return proxy.settings.api_keys if proxy is not None else None


def bearer_info(token: str, request: Any = None) -> dict[str, str] | None:
    """connexion `x-bearerInfoFunc`: re-checks a presented key (None -> 401)."""
    return _token_info(token, request)


def apikey_info(
    apikey: str, required_scopes: Any = None, request: Any = None
) -> dict[str, str] | None:
    """connexion `x-apikeyInfoFunc` for the `x-api-key` header."""
    return _token_info(apikey, request)


def _token_info(token: str, request: Any) -> dict[str, str] | None:
    keys = _configured_keys(request)
    if not keys:
        return {"sub": "anonymous"}
    return {"sub": "api-key"} if key_is_valid(keys, token) else None


def caller_id() -> str | None:
    """Which configured key this request used (a digest, never the key), or None without
    keys. Live CLI processes are never shared between callers (cli_bridge/engine/history.py)."""
    keys = _configured_keys(current_request)
    if not keys:
        return None
    return valid_key_id(keys, current_request.headers)


def health_for_caller(body: dict[str, Any]) -> dict[str, Any]:
    """/health stays open, but with keys configured an anonymous caller only learns whether
    the proxy is up: no CLI path or version, no queue or rate-limit details."""
    keys = _configured_keys(current_request)
    if not keys or has_valid_key(keys, current_request.headers):
        return body
    cli = body.get("cli") or {}
    return {
        "status": body.get("status"),
        "version": body.get("version"),
        "cli": {"found": bool(cli.get("found")), "path": None, "version": None},
    }


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and `localhost` count; names could resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def refusals(settings: Settings) -> list[str]:
    """Reasons not to start at all."""
    out = []
    if not is_loopback(settings.host) and not settings.api_keys:
        out.append(
            f"Refusing to listen on {settings.host}: that address is reachable from other "
            "machines and no API key is set, so anyone who can reach it could use your Claude "
            "subscription. Set --api-key / CLAUDE_PROXY_API_KEYS, or bind to 127.0.0.1."
        )
    return out


def _host_entry(name: str) -> str:
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name.lower()
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def machine_names() -> list[str]:
    """This machine's name(s) and addresses, for a wildcard bind."""
    names = {socket.gethostname(), socket.getfqdn()}
    addresses: set[str] = set()
    for name in names:
        try:
            addresses |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            continue
    return [n for n in names | addresses if n]


def allowed_hosts(settings: Settings) -> list[str]:
    """Host headers we answer: local names, the bind address, and what the operator added.
    A wildcard bind adds this machine's own names and addresses."""
    hosts: list[str] = []

    def add(names: Iterable[str]) -> None:
        for name in names:
            entry = name if name == "*" or name.startswith("*.") else _host_entry(name)
            if entry not in hosts:
                hosts.append(entry)

    add(LOCAL_NAMES)
    if is_wildcard(settings.host):
        add(machine_names())
    else:
        add([settings.host])
    add(settings.allowed_hosts)
    return hosts


def startup_warnings(settings: Settings) -> list[str]:
    """Loud notes for every opt-in that gives clients more power than the defaults."""
    out = []
    if settings.claude_tools:
        out.append(
            f"Claude Code tools ENABLED ({settings.claude_tools}): anyone who can call this proxy "
            "can make Claude use them on this machine (files, commands, network)."
        )
    if settings.workdir is not None:
        out.append(
            f"Claude Code runs IN {settings.workdir}: it can see (and with tools, change) "
            "the files there, and CLAUDE.md or settings found there may apply."
        )
    if not is_loopback(settings.host) and settings.api_keys:
        out.append(f"Listening on non-loopback address {settings.host} (API key required).")
    if "*" in settings.allowed_hosts:
        out.append("Host header check is OFF (--allowed-host '*'): DNS rebinding is possible.")
    if settings.cors_origins:
        out.append(f"CORS enabled for: {', '.join(settings.cors_origins)}")
    return out
