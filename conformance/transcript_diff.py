"""What changed between two recordings of a scenario, in terms that matter to the bridge.

A raw `git diff` of re-recorded transcripts is mostly timing and token noise; this compares the
shape instead: exit code, stderr, the sequence of event kinds, the keys each kind carries, the
fields of the final `result`, and what reached the upstream.
"""

from __future__ import annotations

import difflib
import itertools
from typing import Any

from cli_bridge.replay.transcripts import Transcript

RESULT_FIELDS = ("subtype", "is_error", "api_error_status", "terminal_reason", "stop_reason")
# `roles` and `turns` (recorded for a resumed history): what the model was sent.
UPSTREAM_FIELDS = ("method", "path", "stream", "model", "status", "outcome", "roles", "turns")


def event_kind(event: Any) -> str:
    """`system/init`, `assistant`, `stream_event:content_block_delta:text_delta`, ..."""
    if not isinstance(event, dict):
        return "<not json>"
    kind = str(event.get("type"))
    if kind == "stream_event":
        inner = event.get("event") if isinstance(event.get("event"), dict) else {}
        kind += f":{inner.get('type')}"
        delta = inner.get("delta")
        if isinstance(delta, dict) and "type" in delta:
            kind += f":{delta['type']}"
    elif event.get("subtype") is not None:
        kind += f"/{event['subtype']}"
    return kind


# Objects keyed by data (model ids), not by field names: their keys show as `*`.
MAP_KEYS = frozenset({"modelUsage", "model_usage_since_last_result"})


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value (`message.usage.input_tokens`, `tools[]`)."""
    out: set[str] = set()
    if isinstance(value, dict):
        is_map = prefix.rsplit(".", 1)[-1] in MAP_KEYS
        for key, inner in value.items():
            key = "*" if is_map else key
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            out |= key_paths(inner, path)
    elif isinstance(value, list):
        for inner in value:
            out |= key_paths(inner, f"{prefix}[]")
    return out


def kind_sequence(transcript: Transcript) -> list[str]:
    """Event kinds in order, runs of the same kind collapsed (`x ×4`)."""
    kinds = [event_kind(e) for e in transcript.stdout]
    out = []
    for kind, run in itertools.groupby(kinds):
        n = len(list(run))
        out.append(kind if n == 1 else f"{kind} ×{n}")
    return out


def keys_by_kind(transcript: Transcript) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for event in transcript.stdout:
        out.setdefault(event_kind(event), set()).update(key_paths(event))
    return out


def _result(transcript: Transcript) -> dict[str, Any]:
    for event in reversed(transcript.stdout):
        if isinstance(event, dict) and event.get("type") == "result":
            return {k: event.get(k) for k in RESULT_FIELDS}
    return {}


def compare(old: Transcript, new: Transcript) -> list[str]:
    """Human-readable differences; empty when the shapes match."""
    out: list[str] = []
    for attr in ("exit_code", "ending", "stderr"):
        before, after = getattr(old, attr), getattr(new, attr)
        if before != after:
            out.append(f"{attr}: {before!r} -> {after!r}")
    sequence = list(
        difflib.unified_diff(kind_sequence(old), kind_sequence(new), "old", "new", lineterm="", n=1)
    )
    if sequence:
        out.append("event sequence:")
        out += [f"  {line}" for line in sequence[2:]]
    old_keys, new_keys = keys_by_kind(old), keys_by_kind(new)
    for kind in sorted(set(old_keys) & set(new_keys)):
        added = sorted(new_keys[kind] - old_keys[kind])
        removed = sorted(old_keys[kind] - new_keys[kind])
        if added:
            out.append(f"{kind}: new keys {', '.join(added)}")
        if removed:
            out.append(f"{kind}: keys gone {', '.join(removed)}")
    before, after = _result(old), _result(new)
    for key in RESULT_FIELDS:
        if before.get(key) != after.get(key):
            out.append(f"result.{key}: {before.get(key)!r} -> {after.get(key)!r}")
    old_up = [{k: r.get(k) for k in UPSTREAM_FIELDS} for r in old.upstream]
    new_up = [{k: r.get(k) for k in UPSTREAM_FIELDS} for r in new.upstream]
    if old_up != new_up:
        out.append(f"upstream requests: {old_up} -> {new_up}")
    return out
