"""Every recorded transcript, replayed through `/v1/responses` (stream and not), gives the
Responses output stored in tests/snapshots/responses/, and that output conforms to
openapi.yaml (the contract guard checks every body and event). The chat twin is
test_replay_snapshots.py; `UPDATE_SNAPSHOTS=1` rewrites these the same way.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_bridge.replay.transcripts import scenario_names, transcripts_dir
from tests.conftest import RunningProxy, wait_no_cli_children
from tests.contract import Contract

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "responses"
SCENARIOS = scenario_names(transcripts_dir())
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
ID = re.compile(r"^(resp|msg|fc)_[0-9a-f]{48}$")

# (status without stream, and the Response's status, or the error code)
EXPECTED = {
    "plain": (200, "completed"),
    "multi_block": (200, "completed"),
    "long_output": (200, "completed"),
    "system_prompt": (200, "completed"),
    "cache_usage": (200, "completed"),
    "thinking": (200, "completed"),
    "overloaded_mid_stream": (200, "completed"),
    "error_401": (401, "upstream_auth"),
    "error_429": (429, "rate_limit_exceeded"),
    "error_500": (503, "upstream_error"),
    "error_529": (503, "upstream_overloaded"),
    "hang": (504, "timeout"),
    "resumed_history": (200, "completed"),
}


def normalise(payload: Any) -> Any:
    """Drop what differs per request: ids and times."""
    if isinstance(payload, dict):
        out = {}
        for key, value in payload.items():
            if isinstance(value, str) and ID.match(value):
                value = value.split("_")[0] + "_<id>"
            elif key in ("created_at", "completed_at") and isinstance(value, int):
                value = 0
            out[key] = normalise(value)
        return out
    if isinstance(payload, list):
        return [normalise(v) for v in payload]
    return payload


def create(proxy: RunningProxy, scenario: str, stream: bool) -> httpx.Response:
    body = {
        "model": "opus",
        "instructions": "Be brief.",
        "input": f"Hello [[replay:{scenario}]]",
        "stream": stream,
        "store": False,
    }
    return httpx.post(f"{proxy.url}/v1/responses", json=body, timeout=60)


def observed(proxy: RunningProxy, scenario: str, contract: Contract) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stream in (False, True):
        r = create(proxy, scenario, stream)
        entry: dict[str, Any] = {"status": r.status_code}
        if "retry-after" in r.headers:
            entry["retry_after"] = r.headers["retry-after"]
        if r.headers["content-type"].startswith("text/event-stream"):
            entry["events"] = normalise(contract.check_responses_sse(r.text))
        else:
            entry["body"] = normalise(r.json())
        out["stream" if stream else "non_stream"] = entry
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replayed_transcript_matches_responses_snapshot(
    scenario: str, replay_proxy: RunningProxy, contract: Contract
):
    result = observed(replay_proxy, scenario, contract)
    status, outcome = EXPECTED[scenario]
    assert result["non_stream"]["status"] == status
    if status == 200:
        body = result["non_stream"]["body"]
        assert body["status"] == outcome
        final = result["stream"]["events"][-1]["response"]
        assert final["output"] == body["output"], "stream and non-stream must say the same"
        assert final["usage"] == body["usage"]
    else:
        assert result["non_stream"]["body"]["error"]["code"] == outcome
        stream = result["stream"]
        if "body" in stream:
            assert stream["body"]["error"]["code"] == outcome
        else:
            assert [e["type"] for e in stream["events"][-2:]] == ["error", "response.failed"]
            assert stream["events"][-2]["code"] == outcome
    assert wait_no_cli_children() == []

    path = SNAPSHOTS / f"{scenario}.json"
    text = json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot responses/{path.name} was missing and has been written")
    assert json.loads(path.read_text(encoding="utf-8")) == result, (
        f"replaying {scenario} no longer gives tests/snapshots/responses/{scenario}.json "
        "(UPDATE_SNAPSHOTS=1 rewrites it after an intended change)"
    )


def test_every_scenario_has_a_responses_expectation():
    assert set(SCENARIOS) == set(EXPECTED)
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == set(SCENARIOS)
