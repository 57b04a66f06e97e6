"""`claude-max-api doctor`: is everything in place to serve? One line per check, with a fix.

Takes the same flags and environment as the server, so it checks what `claude-max-api` would
use. Exit code 1 when any check fails (warnings do not fail).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cli_bridge.cli_version import CLI_VERSION, INSTALL_COMMAND, NODE_VERSION
from cli_bridge.protocol.environment import child_env

from .. import security
from ..config import flags
from ..config.settings import Settings, settings_from_args
from ..version import VERSION

TESTED_CLI_VERSION = CLI_VERSION
CLI_TIMEOUT = 15.0
INSTALL = f"{INSTALL_COMMAND} (needs Node.js {NODE_VERSION} or newer)"

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    status: str  # ok / warn / FAIL
    name: str
    detail: str
    fix: str = ""


def run_cli(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI briefly: no stdin, an empty cwd, its own process group killed after
    CLI_TIMEOUT (grandchildren holding the pipes included), so doctor never hangs."""
    with tempfile.TemporaryDirectory(prefix="claude-max-api-doctor-") as cwd:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def check_cli(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    path = shutil.which(settings.claude_bin, path=environ.get("PATH"))
    if path is None:
        return [
            Check(
                FAIL,
                "claude CLI",
                f"{settings.claude_bin!r} not found",
                f"install it with `{INSTALL}`, or point --claude-bin / CLAUDE_BIN at it",
            )
        ]
    out = [Check(OK, "claude CLI", path)]
    env = child_env(environ, settings.cli_env)
    try:
        version = run_cli([path, "--version"], env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [*out, Check(FAIL, "CLI version", f"`claude --version` failed: {exc}", INSTALL)]
    text = version.stdout.strip().split(" ")[0] if version.returncode == 0 else ""
    if not text:
        detail = (version.stderr or version.stdout).strip()[:200] or f"exit {version.returncode}"
        out.append(Check(FAIL, "CLI version", f"`claude --version` failed: {detail}", INSTALL))
        return out
    if text == TESTED_CLI_VERSION:
        out.append(Check(OK, "CLI version", text))
    else:
        out.append(
            Check(
                WARN,
                "CLI version",
                f"{text} (this proxy is tested with {TESTED_CLI_VERSION})",
                f"`{INSTALL}` to use the tested version",
            )
        )
    return [*out, *check_login(path, env)]


def check_login(path: str, env: Mapping[str, str]) -> list[Check]:
    login_fix = "run `claude auth login` (or `claude`, then /login) as the user the proxy runs as"
    try:
        status = run_cli([path, "auth", "status", "--json"], env)
    except subprocess.TimeoutExpired:
        return [Check(FAIL, "logged in", f"`claude auth status` hung for {CLI_TIMEOUT:g} s")]
    except OSError as exc:
        return [Check(WARN, "logged in", f"could not run `claude auth status`: {exc}")]
    try:
        info: Any = json.loads(status.stdout)
    except ValueError:
        info = None
    if not isinstance(info, dict) or "loggedIn" not in info:
        if status.returncode != 0 and "usage:" in (status.stderr + status.stdout).lower():
            # argparse-style usage: not the real CLI (e.g. the replay stand-in)
            return [
                Check(
                    WARN,
                    "logged in",
                    "this CLI has no `auth status` (not the real "
                    "Claude Code CLI? e.g. claude-max-api-replay needs no login)",
                )
            ]
        detail = (status.stderr or status.stdout).strip()[:200]
        return [Check(WARN, "logged in", f"could not tell ({detail or 'no output'})", login_fix)]
    out = []
    method = str(info.get("authMethod"))
    if not info.get("loggedIn"):
        out.append(Check(FAIL, "logged in", "no", login_fix))
    elif method == "api_key":
        source = info.get("apiKeySource", "an API key")
        out.append(
            Check(
                WARN,
                "logged in",
                f"with {source}: billed per token, not through your subscription",
                f"unset it and {login_fix} to use the subscription",
            )
        )
    else:
        out.append(Check(OK, "logged in", f"yes ({method})"))
    if isinstance(info.get("configDirectory"), str):
        out.append(Check(OK, "CLI config dir", info["configDirectory"]))
    return out


def check_runtime_dir(settings: Settings) -> Check:
    base = settings.runtime_dir.parent
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=base):
            pass
    except OSError as exc:
        return Check(
            FAIL,
            "data dir",
            f"{base} is not writable ({exc.strerror})",
            "set TMPDIR to a writable dir",
        )
    return Check(OK, "data dir", f"{base} (per-request work dirs, removed after each run)")


def proxy_version_at(host: str, port: int) -> str | None:
    """The version of a Claude Max API Proxy answering there, if one does."""
    shown = f"[{host}]" if ":" in host else host
    if security.is_wildcard(host):
        shown = "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}/health", timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return body.get("version") if isinstance(body, dict) and "cli" in body else None


def check_port(settings: Settings) -> Check:
    where = f"{settings.host}:{settings.port}"
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return Check(FAIL, "port", f"cannot resolve {settings.host!r} ({exc})", "check --host")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Check(FAIL, "port", f"cannot listen on {where} ({exc.strerror})", "")
        else:
            return Check(OK, "port", f"{where} is free")
    version = proxy_version_at(settings.host, settings.port)
    if version is not None:
        return Check(WARN, "port", f"{where}: a Claude Max API Proxy {version} is already running")
    return Check(
        FAIL,
        "port",
        f"{where} is in use by another program",
        "stop it, or choose another port with --port / CLAUDE_PROXY_PORT",
    )


def check_safety(settings: Settings) -> list[Check]:
    out = [Check(FAIL, "bind", problem, "") for problem in security.refusals(settings)]
    keys = len(settings.api_keys)
    out.append(Check(OK, "API keys", f"{keys} configured" if keys else "none (fine on loopback)"))
    out.append(Check(OK, "allowed hosts", ", ".join(security.allowed_hosts(settings))))
    for warning in security.startup_warnings(settings):
        out.append(Check(WARN, "opt-in", warning))
    return out


def check_settings(settings: Settings) -> Check:
    """The settings that differ from the flag table's defaults (secrets as a count)."""
    values = {f.field: getattr(settings, f.field) for f in flags.FLAGS}
    return Check(OK, "settings", ", ".join(flags.changed(values)) or "all defaults")


def run_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    python = f"{platform.python_version()} ({sys.executable})"
    return [
        Check(OK, "proxy", f"claude-max-api {VERSION}, Python {python}"),
        *check_cli(settings, environ),
        check_runtime_dir(settings),
        check_port(settings),
        *check_safety(settings),
        check_settings(settings),
    ]


def render(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append(f"{failed} problem(s), {warned} warning(s)")
    return "\n".join(lines)


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    settings = settings_from_args(
        argv,
        environ,
        prog="claude-max-api doctor",
        description="Check that everything is in place to serve: the CLI, its login, the "
        "data dir, the port and the safety settings. Takes the server's flags and environment.",
        epilog="exit code 1 when a check fails (warnings do not fail)",
    )
    checks = run_checks(settings, environ)
    print(render(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0
