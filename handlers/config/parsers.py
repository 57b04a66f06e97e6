"""Value parsers the flag table refers to: text (a flag or an environment variable) -> the
typed value, or ValueError with a message that never echoes a secret."""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from cli_bridge.catalogue import Catalogue, parse_model_mappings
from cli_bridge.protocol.instructions import MODES

# Header-safe key text: visible ASCII, no separators we split on.
_KEY = re.compile(r"^[\x21-\x7e]{12,512}$")
_TOOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_HOST = re.compile(r"^(\*|\*\.)?[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?$")
LOG_FORMATS = ("text", "json")
TRUE = {"1", "true", "yes", "on"}


def split_list(items: Iterable[str]) -> tuple[str, ...]:
    """`["a,b", "c"]` (flags and a comma-separated env var) -> ("a", "b", "c"), de-duplicated."""
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def text(value: str) -> str:
    return value


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"invalid int value: {value!r}") from None


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"invalid float value: {value!r}") from None


def count(value: str) -> int:
    """An int >= 0."""
    n = integer(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def positive(value: str) -> int:
    """An int >= 1 (a limit of 0 would refuse everything)."""
    n = integer(value)
    if n < 1:
        raise ValueError(f"must be positive, got {n}")
    return n


def seconds(value: str) -> float:
    """A float >= 0 (also refuses nan)."""
    n = number(value)
    if not n >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return n


def interval(value: str) -> float:
    """A float > 0 (a keep-alive or request timeout of 0 would flood or refuse everything)."""
    n = number(value)
    if not n > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return n


def switch(value: str) -> bool:
    """An on/off environment variable (`DEBUG_SUBPROCESS=true`): anything else is off."""
    return value.strip().lower() in TRUE


def parse_api_keys(value: str) -> tuple[str, ...]:
    keys = split_list([value])
    for n, key in enumerate(keys, 1):
        if not _KEY.match(key):  # never echo the key itself
            raise ValueError(
                f"API key #{n} is unusable: use 12-512 visible ASCII characters, "
                "no spaces or commas"
            )
    return keys


def parse_tools(value: str) -> str:
    """--enable-claude-tools: "" (none), "default", or tool names such as "Read,Grep"."""
    names = split_list(value.replace(" ", ",").split(","))
    if not names:
        return ""
    if names == ("default",):
        return "default"
    bad = [n for n in names if not _TOOL.match(n)]
    if bad:
        raise ValueError(f"invalid Claude Code tool name(s): {', '.join(map(repr, bad))}")
    return ",".join(names)


def parse_host(value: str) -> str:
    """An allowed Host name: a DNS name, `*.example.com`, an IP literal, or `*` (any)."""
    host = value.strip().lower()
    if host == "*":
        return host
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        if not _HOST.match(host):
            raise ValueError(f"invalid allowed host {value!r} (give a name without port)") from None
        return host
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def parse_hosts(value: str) -> tuple[str, ...]:
    return tuple(parse_host(h) for h in split_list([value]))


def parse_origin(value: str) -> str:
    """A CORS origin: `*` or `scheme://host[:port]`, nothing else."""
    origin = value.strip().rstrip("/").lower()
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"invalid CORS origin {value!r}: use scheme://host[:port]")
    return origin


def parse_origins(value: str) -> tuple[str, ...]:
    return tuple(parse_origin(o) for o in split_list([value]))


def parse_workdir(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"{value!r} is not an existing directory")
    return path


def parse_data_dir(value: str) -> Path | None:
    """A directory for the proxy's own data (created when first needed); "" = the default."""
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{value!r} is not a directory")
    return path


def parse_models(value: str) -> dict[str, str]:
    """`id=cli-model,a=b` -> {"id": "cli-model", "a": "b"} (flags and env joined by commas)."""
    models = parse_model_mappings([value])
    Catalogue(models)  # refuse unusable values (e.g. `id=--tools`) now, not at app start
    return models


def parse_log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


def parse_system_prompt_mode(value: str) -> str:
    if value not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}, got {value!r}")
    return value
