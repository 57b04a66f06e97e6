"""Find or install the pinned official `openai` Node SDK, for the real-client conformance tests.

Like `cli_install`, it installs into a cache folder with npm (never globally). The pin matters:
openai 7.x declares `engines.node >=22`, and this project's machines run Node 20.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conformance.cli_install import cache_dir, npm_install

SDK_PACKAGE = "openai"
SDK_VERSION = os.environ.get("OPENAI_NODE_VERSION", "6.49.0")


def installed_version(prefix: Path) -> str | None:
    manifest = prefix / "node_modules" / SDK_PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


def ensure_openai_node(version: str = SDK_VERSION) -> Path:
    """A folder whose node_modules holds openai@`version`; scripts placed there import it."""
    prefix = cache_dir() / f"openai-node-{version}"
    if installed_version(prefix) == version:
        return prefix
    npm_install(prefix, f"{SDK_PACKAGE}@{version}")
    if installed_version(prefix) != version:
        raise RuntimeError(f"installed {SDK_PACKAGE}@{version} but cannot find it in {prefix}")
    return prefix


if __name__ == "__main__":
    print(ensure_openai_node())
