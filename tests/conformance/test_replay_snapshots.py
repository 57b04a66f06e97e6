"""Every recorded transcript, replayed through the proxy and the bridge, gives the OpenAI output
stored in tests/snapshots/ (stream and non-stream), and that output conforms to openapi.yaml.

Update the snapshots after an intended change with
`UPDATE_SNAPSHOTS=1 python -m pytest tests/conformance/test_replay_snapshots.py`
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_bridge.protocol.instructions import DEFAULT_BASE_PROMPT
from cli_bridge.replay.transcripts import scenario_names, transcripts_dir
from tests.conftest import RunningProxy, wait_no_cli_children
from tests.contract import Contract

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
SCENARIOS = scenario_names(transcripts_dir())
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

# What each scenario must map to, whatever the snapshot says: (status without stream, and the
# error code, or the final finish_reason for successes).
EXPECTED = {
    "plain": (200, "stop"),
    "multi_block": (200, "stop"),
    "long_output": (200, "stop"),
    "system_prompt": (200, "stop"),
    "cache_usage": (200, "stop"),
    "thinking": (200, "stop"),
    "overloaded_mid_stream": (200, "stop"),
    "error_401": (401, "upstream_auth"),
    "error_429": (429, "rate_limit_exceeded"),
    "error_500": (503, "upstream_error"),  # retried by the proxy first (retry.py)
    "error_529": (503, "upstream_overloaded"),
    "hang": (504, "timeout"),
    "resumed_history": (200, "stop"),
}


def normalise(payload: Any) -> Any:
    """Drop what differs per request: the completion id and the creation time."""
    if isinstance(payload, dict):
        out = {}
        for key, value in payload.items():
            if key == "id" and isinstance(value, str) and value.startswith("chatcmpl-"):
                value = "chatcmpl-<id>"
            elif key == "created" and isinstance(value, int):
                value = 0
            out[key] = normalise(value)
        return out
    if isinstance(payload, list):
        return [normalise(v) for v in payload]
    return payload


def chat(proxy: RunningProxy, scenario: str, stream: bool) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "opus",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Hello [[replay:{scenario}]]"},
        ],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return httpx.post(f"{proxy.url}/v1/chat/completions", json=body, timeout=60)


def observed(proxy: RunningProxy, scenario: str, contract: Contract) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stream in (False, True):
        r = chat(proxy, scenario, stream)
        contract.check(r)
        entry: dict[str, Any] = {"status": r.status_code}
        if "retry-after" in r.headers:
            entry["retry_after"] = r.headers["retry-after"]
        if r.headers["content-type"].startswith("text/event-stream"):
            entry["events"] = normalise(contract.check_sse(r.text))
        else:
            entry["body"] = normalise(r.json())
        out["stream" if stream else "non_stream"] = entry
    return out


def answer_text(result: dict[str, Any]) -> tuple[str, str]:
    """(non-stream content, the streamed content joined) of a successful scenario."""
    content = result["non_stream"]["body"]["choices"][0]["message"]["content"]
    events = result["stream"]["events"]
    streamed = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]
    )
    return content, streamed


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replayed_transcript_matches_snapshot(
    scenario: str, replay_proxy: RunningProxy, contract: Contract
):
    result = observed(replay_proxy, scenario, contract)
    status, code = EXPECTED[scenario]
    assert result["non_stream"]["status"] == status
    if status == 200:
        body = result["non_stream"]["body"]
        assert body["choices"][0]["finish_reason"] == code
        content, streamed = answer_text(result)
        assert content and content == streamed, "stream and non-stream must say the same"
        usage = result["stream"]["events"][-1]["usage"]
        assert usage == body["usage"], "the include_usage chunk carries the completion's usage"
    else:
        assert result["non_stream"]["body"]["error"]["code"] == code
        stream = result["stream"]
        error = stream["body"]["error"] if "body" in stream else stream["events"][-1]["error"]
        assert error["code"] == code
    assert wait_no_cli_children() == []

    path = SNAPSHOTS / f"{scenario}.json"
    text = json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {path.name} was missing and has been written: review it")
    assert json.loads(path.read_text(encoding="utf-8")) == result, (
        f"replaying {scenario} no longer gives tests/snapshots/{scenario}.json "
        "(UPDATE_SNAPSHOTS=1 rewrites it after an intended change)"
    )


def test_every_scenario_has_an_expectation():
    assert set(SCENARIOS) == set(EXPECTED)
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == set(SCENARIOS)


def test_replay_log_shows_proxy_argv(replay_proxy: RunningProxy, replay_log: Path):
    marker = "snapshot-argv-check"
    r = chat(replay_proxy, "plain", stream=False)
    assert r.status_code == 200
    r = httpx.post(
        f"{replay_proxy.url}/v1/chat/completions",
        json={
            "model": "claude-sonnet-4",
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": marker},
            ],
        },
        timeout=60,
    )
    # `--system-prompt-mode user` (the default): the developer message opens the user turn.
    prompt = f"<instructions>\nAnswer in French.\n</instructions>\n\n{marker}"
    assert r.json()["choices"][0]["message"]["content"] == f"Replay: {prompt}"
    (turn,) = [
        json.loads(line)
        for line in replay_log.read_text().splitlines()
        if json.loads(line)["prompt"] == prompt
    ]
    argv = turn["argv"]
    assert argv[argv.index("--model") + 1] == "sonnet"
    assert argv[argv.index("--tools") + 1] == ""
    assert "--system-prompt-file" in argv
    assert turn["system_prompt"] == DEFAULT_BASE_PROMPT  # the proxy's own, in a file
    assert not any(marker in a for a in argv), "user text must never be on argv"
    assert re.search(r"/run-[0-9a-f]+/work$", turn["cwd"]), "each run gets its own empty cwd"
