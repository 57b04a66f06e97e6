"""The model catalogue: which public model ids we serve and the CLI `--model` value for each.

The mapping is data (one table) so that following a CLI release is an edit here, and operators
extend it from configuration without code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import InvalidRequest, ModelNotFound

# public id -> (CLI --model value, stable `created` timestamp for /v1/models)
DEFAULT_MODELS: dict[str, tuple[str, int]] = {
    # Current models, as CLI 2.1.332 resolves its aliases.
    "claude-opus-5-5": ("claude-opus-5-5", 1793923200),
    "claude-sonnet-5-5": ("claude-sonnet-5-5", 1793923200),
    "claude-haiku-5-5": ("claude-haiku-5-5", 1793923200),
    "claude-fable-5-2": ("claude-fable-5-2", 1791331200),
    # The CLI's own aliases follow whatever the installed CLI considers current.
    "opus": ("opus", 1793923200),
    "sonnet": ("sonnet", 1793923200),
    "haiku": ("haiku", 1793923200),
    "fable": ("fable", 1791331200),
    # The Node seed's ids, kept for drop-in compatibility; they follow the aliases.
    "claude-opus-4-6": ("opus", 1770336000),
    "claude-opus-4": ("opus", 1747699200),
    "claude-sonnet-4-5": ("sonnet", 1759104000),
    "claude-sonnet-4": ("sonnet", 1747699200),
    "claude-haiku-4": ("haiku", 1747699200),
    "opus-max": ("opus", 1747699200),
    "sonnet-max": ("sonnet", 1747699200),
}

# The seed accepted ids under these provider-style prefixes.
PREFIXES = ("claude-max/", "claude-code-cli/")

# A CLI --model value must look like a model name, never like a flag or a path (use
# fullmatch: `$` alone also matches before a trailing newline).
_SAFE_CLI_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\[\]-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str
    cli_model: str
    created: int
    owned_by: str = "anthropic"


class Catalogue:
    """Resolves public ids (with or without a seed prefix) to CLI model values."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        entries = {
            mid: ModelEntry(mid, cli, created) for mid, (cli, created) in DEFAULT_MODELS.items()
        }
        for mid, cli in (extra or {}).items():
            if not _SAFE_CLI_MODEL.fullmatch(cli) or not mid or mid.startswith("-"):
                raise ValueError(f"invalid model mapping {mid!r}={cli!r}")
            entries[mid] = ModelEntry(mid, cli, 1764028800, owned_by="operator")
        self._entries = entries

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def lookup(self, model_id: str) -> ModelEntry | None:
        """The entry for `model_id`, accepting the seed's prefixes; None when unknown."""
        entry = self._entries.get(model_id)
        if entry is not None:
            return entry
        for prefix in PREFIXES:
            if model_id.startswith(prefix):
                return self._entries.get(model_id[len(prefix) :])
        return None

    def resolve(self, model_id: str) -> ModelEntry:
        """Like lookup, but an unknown id is the 404 `model_not_found` error."""
        entry = self.lookup(model_id)
        if entry is None:
            raise ModelNotFound(
                f"The model `{model_id}` does not exist or you do not have access to it.",
                param="model",
            )
        if not _SAFE_CLI_MODEL.fullmatch(entry.cli_model):
            raise InvalidRequest(f"model `{model_id}` maps to an unusable CLI model", param="model")
        return entry


def parse_model_mappings(items: Iterable[str]) -> dict[str, str]:
    """`["id=cli-model", "a=b,c=d"]` (flags or env) -> {"id": "cli-model", ...}."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            mid, sep, cli = part.partition("=")
            if not sep or not mid.strip() or not cli.strip():
                raise ValueError(f"model mapping must be ID=CLI_MODEL, got {part!r}")
            out[mid.strip()] = cli.strip()
    return out
