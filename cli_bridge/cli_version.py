"""The Claude Code CLI release this proxy is tested with, and the one install hint for it.

The startup warning, the 503 `cli_not_found`, `doctor`, the README and the test installer all
use these, so they never disagree. The pinned package needs Node.js 22 or newer (its
`engines.node`; npm warns `EBADENGINE` on Node 20).
"""

from __future__ import annotations

CLI_PACKAGE = "@anthropic-ai/claude-code"
CLI_VERSION = "2.1.332"
NODE_VERSION = "22"  # engines.node of the pinned package: ">=22.0.0"
INSTALL_COMMAND = f"npm install -g {CLI_PACKAGE}@{CLI_VERSION}"
INSTALL_HINT = (
    f"Install it with `{INSTALL_COMMAND}` (needs Node.js {NODE_VERSION} or newer) and log in "
    "with `claude`, or point --claude-bin / CLAUDE_BIN at it."
)
