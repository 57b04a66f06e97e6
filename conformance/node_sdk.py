"""Find or install the pinned official Node SDKs (`openai`, `@anthropic-ai/sdk`), for the
real-client conformance tests.

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
ANTHROPIC_PACKAGE = "@anthropic-ai/sdk"
ANTHROPIC_VERSION = os.environ.get("ANTHROPIC_NODE_VERSION", "1.10.0")


def installed_version(prefix: Path, package: str = SDK_PACKAGE) -> str | None:
    manifest = prefix / "node_modules" / package / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


def ensure_node_package(package: str, version: str, folder: str) -> Path:
    """A cache folder whose node_modules holds package@`version`; scripts placed there
    import it."""
    prefix = cache_dir() / f"{folder}-{version}"
    if installed_version(prefix, package) == version:
        return prefix
    npm_install(prefix, f"{package}@{version}")
    if installed_version(prefix, package) != version:
        raise RuntimeError(f"installed {package}@{version} but cannot find it in {prefix}")
    return prefix


def ensure_openai_node(version: str = SDK_VERSION) -> Path:
    """A folder whose node_modules holds openai@`version`."""
    return ensure_node_package(SDK_PACKAGE, version, "openai-node")


def ensure_anthropic_node(version: str = ANTHROPIC_VERSION) -> Path:
    """A folder whose node_modules holds @anthropic-ai/sdk@`version`."""
    return ensure_node_package(ANTHROPIC_PACKAGE, version, "anthropic-node")


if __name__ == "__main__":
    print(ensure_openai_node())
    print(ensure_anthropic_node())
