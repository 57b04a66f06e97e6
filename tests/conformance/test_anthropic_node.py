"""The official Anthropic TypeScript SDK (`@anthropic-ai/sdk`, pinned, installed with npm into a
cache folder) against the proxy's /v1/messages on 127.0.0.1: create, stream (the helper and raw
events), errors (404 streamed and not, 400) on both backends, and a tool round trip, streamed
and not, on the real CLI (the replay CLI lists no client tools). Every message and event the
SDK parsed is validated against openapi.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.node_sdk import ANTHROPIC_PACKAGE, ANTHROPIC_VERSION, ensure_anthropic_node
from tests.conformance.conftest import PLAIN_REPLY, prompt_for
from tests.conftest import RunningProxy, upstream_requests
from tests.contract import SPEC_PATH, Contract

SCRIPT = Path(__file__).resolve().parents[2] / "conformance" / "anthropic_node_check.mjs"


@pytest.fixture(scope="session")
def node_script() -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the Anthropic Node SDK conformance test")
    target = ensure_anthropic_node() / SCRIPT.name  # the SDK resolves from the script's folder
    shutil.copyfile(SCRIPT, target)
    return target


def validator(name: str) -> OAS30Validator:
    raw = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return OAS30Validator({**raw["components"]["schemas"][name], "components": raw["components"]})


def run_node(script: Path, proxy: RunningProxy, *prompts: str) -> dict[str, list[Any]]:
    env = {**os.environ, "ANTHROPIC_BASE_URL": proxy.url}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    proc = subprocess.run(
        ["node", str(script), *prompts], capture_output=True, text=True, env=env, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, list[Any]] = {}
    for line in proc.stdout.splitlines():
        item = json.loads(line)
        out.setdefault(item["kind"], []).append(item["value"])
    return out


def check_message(message: dict[str, Any]) -> None:
    validator("Message").validate(message)


def check_events(events: list[dict[str, Any]], contract: Contract) -> None:
    stream = contract.stream_contract("/v1/messages")
    assert stream is not None
    for event in events:
        stream.check_payload(event)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]


def test_anthropic_node_sdk(node_script: Path, backend: RunningProxy, contract: Contract):
    prompt = prompt_for("Hello from Node", "plain", reply=PLAIN_REPLY, n_chunks=4)
    out = run_node(node_script, backend, prompt)

    (message,) = out["message"]
    check_message(message)
    assert [(b["type"], b["text"]) for b in message["content"]] == [("text", PLAIN_REPLY)]
    assert message["stop_reason"] == "end_turn" and message["model"] == "opus"

    (streamed,) = out["stream"]
    check_events(streamed["events"], contract)
    assert streamed["text"] == PLAIN_REPLY
    check_message(streamed["final"])
    assert streamed["final"]["usage"]["output_tokens"] > 0

    (raw,) = out["raw_stream"]
    check_events(raw, contract)
    deltas = [e["delta"]["text"] for e in raw if e["type"] == "content_block_delta"]
    assert "".join(deltas) == PLAIN_REPLY

    for kind in ("error", "stream_error"):
        (error,) = out[kind]
        assert error["status"] == 404 and error["isNotFound"] is True, error
        validator("AnthropicErrorResponse").validate(error["error"])
        assert error["error"]["error"]["type"] == "not_found_error"
    (bad,) = out["bad_request"]
    assert bad["status"] == 400 and bad["isBadRequest"] is True
    assert bad["error"]["error"]["type"] == "invalid_request_error"


def test_anthropic_node_sdk_tool_round_trip(
    node_script: Path, proxy: RunningProxy, upstream: FakeAnthropic, marker: str
):
    plan = [[{"name": "get_weather", "input": {"city": "Paris"}}]]
    tool_prompt = f"weather? {marker} {fake_directive(tool_plan=plan)}"
    plain = prompt_for("Hello", "plain", reply=PLAIN_REPLY)
    out = run_node(node_script, proxy, plain, tool_prompt)
    trips = out["tool_round_trip"]
    assert [t["streamed"] for t in trips] == [False, True]
    for trip in trips:
        first, second = trip["first"], trip["second"]
        check_message(first)
        check_message(second)
        assert first["stop_reason"] == "tool_use"
        uses = [b for b in first["content"] if b["type"] == "tool_use"]
        assert [(u["name"], u["input"]) for u in uses] == [("get_weather", {"city": "Paris"})]
        assert second["stop_reason"] == "end_turn"
        assert second["content"][-1]["text"] == "final: sunny in Paris"
    assert upstream_requests(upstream, marker)


def test_anthropic_node_sdk_pin_is_installed(node_script: Path):
    manifest = node_script.parent / "node_modules" / ANTHROPIC_PACKAGE / "package.json"
    assert json.loads(manifest.read_text())["version"] == ANTHROPIC_VERSION
