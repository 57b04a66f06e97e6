"""Find or install the pinned Claude Code CLI for tests, recordings and benchmarks.

The version is pinned: on Node 20 an unpinned `npm install` resolves to an older release.
Installs go to a cache folder, never globally; nothing here needs an Anthropic login.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from platformdirs import user_cache_dir

from cli_bridge import cli_version

CLI_PACKAGE = cli_version.CLI_PACKAGE
CLI_VERSION = os.environ.get("CLAUDE_CLI_VERSION", cli_version.CLI_VERSION)


def cache_dir() -> Path:
    return Path(os.environ.get("CLAUDE_MAX_API_CACHE", user_cache_dir("claude-max-api")))


def cli_version(path: str) -> str | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().split(" ")[0] or None if out.returncode == 0 else None


def npm_install(prefix: Path, spec: str) -> None:
    """`npm install spec` into `prefix` (a cache folder, never global); progress to stderr."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed to install {spec} for the tests")
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"installing {spec} into {prefix}", file=sys.stderr)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), spec],
        check=True,
        stdout=sys.stderr,
    )


def ensure_claude(version: str = CLI_VERSION) -> str:
    """Path of a `claude` binary of `version`: $CLAUDE_BIN, PATH, or a cached npm install."""
    explicit = os.environ.get("CLAUDE_BIN")
    if explicit:
        return explicit
    on_path = shutil.which("claude")
    if on_path and cli_version(on_path) == version:
        return on_path
    prefix = cache_dir() / f"claude-code-{version}"
    binary = prefix / "node_modules" / ".bin" / "claude"
    if binary.exists() and cli_version(str(binary)) == version:
        return str(binary)
    npm_install(prefix, f"{CLI_PACKAGE}@{version}")
    if cli_version(str(binary)) != version:
        raise RuntimeError(f"installed {CLI_PACKAGE}@{version} but {binary} does not run")
    return str(binary)


if __name__ == "__main__":
    print(ensure_claude())
