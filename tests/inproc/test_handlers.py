"""Handlers without a real CLI: /health, /v1/models, /metrics, a missing CLI, startup warnings.
In-process; what needs the real CLI is in tests/e2e."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conformance.cli_install import CLI_VERSION
from handlers.app import create_app
from handlers.config.settings import Settings
from tests.contract import Contract
from tests.inproc.conftest import InProcessProxy, in_process


def test_health_reports_cli(app: InProcessProxy, contract: Contract):
    r = app.client.get("/health")
    contract.check(r)
    body = r.json()
    assert body["status"] == "ok"
    # The replay CLI answers --version as the pinned real CLI does.
    assert body["cli"] == {"found": True, "path": app.settings.claude_bin, "version": CLI_VERSION}


def test_models_via_sdk(app: InProcessProxy):
    sdk = app.sdk()
    ids = [m.id for m in sdk.models.list()]
    for expected in (
        "claude-opus-4-6",
        "claude-opus-4",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-haiku-4",
        "opus",
        "sonnet",
        "haiku",
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-fable-5-2",
    ):
        assert expected in ids
    assert sdk.models.retrieve("claude-code-cli/sonnet").id == "claude-code-cli/sonnet"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("gpt-4o")
    assert caught.value.body["code"] == "model_not_found"


def test_cli_missing_is_503(app_settings: Settings, contract: Contract, tmp_path: Path):
    settings = replace(app_settings, claude_bin=str(tmp_path / "no-such-claude"))
    with in_process(settings) as running:
        health = running.client.get("/health")
        contract.check(health)
        assert health.json()["cli"]["found"] is False
        assert health.json()["status"] == "degraded"
        for stream in (False, True):
            r = running.client.post(
                "/v1/chat/completions",
                json={
                    "model": "opus",
                    "messages": [{"role": "user", "content": "hi"}],
                    "stream": stream,
                },
            )
            contract.check(r)
            assert r.status_code == 503
            error = r.json()["error"]
            assert error["code"] == "cli_not_found"
            assert "npm install" in error["message"]


def test_metrics_count_requests_by_route_status_and_model(app_settings: Settings, contract):
    """A fresh app, so the counters start at zero."""
    with in_process(app_settings) as running:
        client = running.client
        messages = [{"role": "user", "content": "hi"}]
        for model, status in (("opus", 200), ("gpt-9", 404)):
            r = client.post("/v1/chat/completions", json={"model": model, "messages": messages})
            assert r.status_code == status
        assert client.get("/v1/models").status_code == 200
        r = client.get("/metrics")
    contract.check(r)
    assert r.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    total = "claude_proxy_http_requests_total"
    chat = {"route": "create_chat_completion", "method": "POST"}
    assert value(total, **chat, status="200", model="opus") == 1
    assert value(total, **chat, status="404", model="") == 1
    assert value(total, route="list_models", method="GET", status="200", model="") == 1
    assert value("claude_proxy_cli_turns_total", model="opus") == 1
    assert value("claude_proxy_cli_processes_active") == 0
    assert value("claude_proxy_cli_pool_size") == 0


def test_opt_ins_are_announced_loudly(app_settings: Settings, tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="claude_max_api")
    create_app(replace(app_settings, claude_tools="default", workdir=tmp_path))
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "Claude Code tools ENABLED (default)" in text
    assert f"Claude Code runs IN {tmp_path}" in text
    caplog.clear()
    create_app(app_settings)
    assert not [r for r in caplog.records if "ENABLED" in r.getMessage()]
