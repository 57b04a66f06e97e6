"""The official openai Node SDK (pinned, installed with npm into a cache folder) against the
proxy on 127.0.0.1: chat, streaming chat, models and an error, on both backends."""

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

from conformance.node_sdk import SDK_VERSION, ensure_openai_node
from tests.conformance.conftest import PLAIN_REPLY, prompt_for
from tests.conftest import RunningProxy
from tests.contract import SPEC_PATH, Contract

SCRIPT = Path(__file__).resolve().parents[2] / "conformance" / "openai_node_check.mjs"


@pytest.fixture(scope="session")
def node_script() -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the openai Node SDK conformance test")
    prefix = ensure_openai_node()
    target = prefix / SCRIPT.name  # ES modules resolve `openai` from the script's folder up
    shutil.copyfile(SCRIPT, target)
    return target


def completion_validator() -> OAS30Validator:
    raw = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    schema = raw["components"]["schemas"]["CreateChatCompletionResponse"]
    return OAS30Validator({**schema, "components": raw["components"]})


def run_node(script: Path, proxy: RunningProxy, prompt: str) -> dict[str, list[Any]]:
    env = {**os.environ, "OPENAI_BASE_URL": proxy.v1}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(
        ["node", str(script), prompt], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, list[Any]] = {}
    for line in proc.stdout.splitlines():
        item = json.loads(line)
        out.setdefault(item["kind"], []).append(item["value"])
    return out


def test_node_sdk(node_script: Path, backend: RunningProxy, contract: Contract):
    prompt = prompt_for("Hello from Node", "plain", reply=PLAIN_REPLY, n_chunks=4)
    out = run_node(node_script, backend, prompt)

    (completion,) = out["completion"]
    completion_validator().validate(completion)
    assert completion["choices"][0]["message"]["content"] == PLAIN_REPLY
    assert completion["model"] == "opus"

    chunks = out["chunk"]
    for chunk in chunks:
        contract.check_chunk(chunk)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == PLAIN_REPLY
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0

    (models,) = out["models"]
    assert {"opus", "claude-sonnet-4"} <= {m["id"] for m in models}

    (error,) = out["error"]
    assert error["status"] == 404 and error["isNotFound"] is True
    assert error["error"]["code"] == "model_not_found"


def test_node_sdk_pin_is_installed(node_script: Path):
    manifest = node_script.parent / "node_modules" / "openai" / "package.json"
    assert json.loads(manifest.read_text())["version"] == SDK_VERSION
