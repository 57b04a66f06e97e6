"""`claude-max-api install-service`: a systemd user unit (Linux) or a LaunchAgent (macOS)
that runs the proxy with the flags given here, at login, restarting it if it fails.

Secrets (API keys, tokens) never go on the command line or into output: on Linux they go
into a separate 0600 environment file, on macOS into the 0600 plist itself.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import security
from ..config.settings import settings_from_args

UNIT_NAME = "claude-max-api.service"
LAUNCHD_LABEL = "local.claude-max-api"
# Environment the service keeps from the shell that installs it.
CARRIED = re.compile(
    r"^(CLAUDE_PROXY_\w+|CLAUDE_BIN|CLAUDE_CONFIG_DIR|DEBUG_SUBPROCESS|ANTHROPIC_\w+"
    r"|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy)$"
)
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
MASK = "********"


@dataclass(frozen=True, slots=True)
class ServiceFile:
    path: Path
    text: str
    mode: int
    shown: str  # what may be printed (secrets masked)


def proxy_command(argv0: str | None = None) -> list[str]:
    """The absolute command that starts this installed proxy: the `claude-max-api` being run,
    else the one next to this Python, else one on PATH, else `python -m handlers.main`."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name == "claude-max-api" and Path(argv0).is_file():
        return [str(Path(argv0).absolute())]
    here = Path(sys.executable).parent
    found = shutil.which("claude-max-api", path=str(here)) or shutil.which("claude-max-api")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "handlers.main"]


def serve_args(argv: Sequence[str], claude_bin: str) -> tuple[list[str], list[str]]:
    """The serve flags for the service, minus API keys (returned apart), with the CLI's
    absolute path pinned."""
    args: list[str] = []
    keys: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--api-key":
            keys.append(next(it, ""))
        elif arg.startswith("--api-key="):
            keys.append(arg.split("=", 1)[1])
        elif arg == "--claude-bin":
            next(it, None)
        elif not arg.startswith("--claude-bin="):
            args.append(arg)
    return [*args, "--claude-bin", claude_bin], keys


def service_env(
    environ: Mapping[str, str], keys: Sequence[str], path_dirs: Sequence[str]
) -> dict[str, str]:
    env = {k: v for k, v in sorted(environ.items()) if CARRIED.match(k)}
    if keys:
        env["CLAUDE_PROXY_API_KEYS"] = ",".join(
            [*filter(None, env.get("CLAUDE_PROXY_API_KEYS", "").split(",")), *keys]
        )
    dirs = [*path_dirs, "/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = ":".join(dict.fromkeys(dirs))
    return env


def systemd_quote(arg: str) -> str:
    """One ExecStart word: quoted, with systemd's specifiers ($, %) escaped."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_files(
    command: Sequence[str], env: Mapping[str, str], config: Path
) -> list[ServiceFile]:
    public = {k: v for k, v in env.items() if not SECRET.search(k)}
    secret = {k: v for k, v in env.items() if SECRET.search(k)}
    env_file = config / "claude-max-api" / "service.env"
    lines = [
        "[Unit]",
        "Description=Claude Max API Proxy (OpenAI-compatible API for your Claude subscription)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(systemd_quote(a) for a in command),
        *(f"Environment={systemd_quote(f'{k}={v}')}" for k, v in public.items()),
        f"EnvironmentFile=-{env_file}",
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "TimeoutStopSec=45",
        "NoNewPrivileges=true",
        "UMask=0077",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    unit = "\n".join(lines)
    files = [ServiceFile(config / "systemd" / "user" / UNIT_NAME, unit, 0o644, unit)]
    if secret:
        text = "".join(f"{k}={v}\n" for k, v in secret.items())
        shown = "".join(f"{k}={MASK}\n" for k in secret)
        files.append(ServiceFile(env_file, text, 0o600, shown))
    return files


def launchd_files(command: Sequence[str], env: Mapping[str, str], home: Path) -> list[ServiceFile]:
    log_file = str(home / "Library" / "Logs" / "claude-max-api.log")
    plist = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(command),
        "EnvironmentVariables": dict(env),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "StandardOutPath": log_file,
        "StandardErrorPath": log_file,
    }
    masked = {
        **plist,
        "EnvironmentVariables": {k: MASK if SECRET.search(k) else v for k, v in env.items()},
    }
    path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    text = plistlib.dumps(plist).decode()
    return [ServiceFile(path, text, 0o600, plistlib.dumps(masked).decode())]


def how_to_enable(kind: str, files: Sequence[ServiceFile]) -> str:
    if kind == "systemd":
        return "\n".join(
            [
                "Enable and start it with:",
                "  systemctl --user daemon-reload",
                f"  systemctl --user enable --now {UNIT_NAME}",
                "Keep it running while you are logged out:  loginctl enable-linger $USER",
                f"Logs:  journalctl --user -u {UNIT_NAME} -f",
                "Check it:  claude-max-api doctor",
            ]
        )
    plist = files[0].path
    return "\n".join(
        [
            "Load and start it with:",
            f"  launchctl bootstrap gui/$(id -u) {plist}",
            f"  launchctl kickstart -k gui/$(id -u)/{LAUNCHD_LABEL}",
            f"Stop it:  launchctl bootout gui/$(id -u)/{LAUNCHD_LABEL}",
            "Logs:  ~/Library/Logs/claude-max-api.log",
            "Check it:  claude-max-api doctor",
        ]
    )


def build_files(
    kind: str, argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[list[ServiceFile], list[str]]:
    """The service files for these serve flags, and notes for the operator."""
    settings = settings_from_args(argv, environ)  # same validation as the server
    problems = security.refusals(settings)
    if problems:
        raise SystemExit("claude-max-api install-service: " + " ".join(problems))
    claude = shutil.which(settings.claude_bin, path=environ.get("PATH"))
    claude_bin = str(Path(claude).absolute()) if claude else settings.claude_bin
    notes = (
        []
        if claude
        else [
            f"Warning: the Claude CLI {settings.claude_bin!r} was not found; the service will "
            "answer 503 until it is installed (see `claude-max-api doctor`)."
        ]
    )
    args, keys = serve_args(argv, claude_bin)
    command = [*proxy_command(), *args]
    path_dirs = [str(Path(claude_bin).parent)] if claude else []
    path_dirs.append(str(Path(command[0]).parent))
    env = service_env(environ, keys, path_dirs)
    home = Path(environ.get("HOME") or Path.home())
    if kind == "launchd":
        return launchd_files(command, env, home), notes
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return systemd_files(command, env, config), notes


def write(files: Sequence[ServiceFile]) -> None:
    for f in files:
        f.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f.text)
        os.chmod(f.path, f.mode)


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="claude-max-api install-service",
        description="Install the proxy as a user service that starts at login and restarts "
        "if it fails. Other flags (see `claude-max-api --help`) are checked and passed to the "
        "server; API keys go into a private file, never onto the command line.",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the files, write nothing")
    parser.add_argument(
        "--kind",
        choices=("systemd", "launchd"),
        default="launchd" if sys.platform == "darwin" else "systemd",
        help="service manager (default: this platform's)",
    )
    args, rest = parser.parse_known_args(argv)
    files, notes = build_files(args.kind, rest, environ)
    if not args.dry_run:
        write(files)
    for f in files:
        verb = "Would write" if args.dry_run else "Wrote"
        print(f"# {verb} {f.path} (mode {f.mode:o}):")
        print(f.shown.rstrip("\n"))
        print()
    print(how_to_enable(args.kind, files))
    for note in notes:
        print(note, file=sys.stderr)
    return 0
