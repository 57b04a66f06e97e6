"""The layout's rules, read from the code's own imports (ast), so they stay true.

- The engine and the CLI protocol know no API surface: they never import `cli_bridge.formats`
  nor anything of `handlers`.
- `cli_bridge` as a whole never imports `handlers`.
- The server never imports the operator commands (`handlers.commands`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in paths:
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_resolver_sees_relative_imports():
    """The rule below would pass vacuously if relative imports were not resolved."""
    names = imports_of(ROOT / "cli_bridge" / "engine" / "bridge.py")
    assert "cli_bridge.protocol.result" in names
    assert "cli_bridge.engine.pool" in names
    chat = imports_of(ROOT / "handlers" / "api" / "chat.py")
    assert "cli_bridge.formats.openai_chat.request" in chat


@pytest.mark.parametrize("folder", ["cli_bridge/engine", "cli_bridge/protocol"])
def test_engine_and_protocol_know_no_surface(folder):
    paths = modules(folder)
    assert paths
    assert offenders(paths, ("cli_bridge.formats", "handlers")) == []


def test_bridge_never_imports_the_http_side():
    assert offenders(modules("cli_bridge"), ("handlers",)) == []


def test_server_never_imports_operator_commands():
    server = [p for p in modules("handlers") if "commands" not in p.parts and p.name != "main.py"]
    assert offenders(server, ("handlers.commands",)) == []


def test_offenders_catches_a_forbidden_import():
    fake = ROOT / "cli_bridge" / "engine" / "bridge.py"
    assert offenders([fake], ("cli_bridge.engine.pool",)) != []
