"""Regression tests for what the conformance runs found (see README "Conformance")."""

from __future__ import annotations

import os

import httpx
import pytest

from cli_bridge.engine.process import CliProcess
from tests.conftest import RunningProxy


def chat_body(**extra: object) -> dict[str, object]:
    return {"model": "opus", "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1])
def test_seed_outside_int64_is_rejected(replay_proxy: RunningProxy, seed: int):
    """schemathesis negative_data_rejection: `format: int64` alone let 2**63 through (200)."""
    r = httpx.post(f"{replay_proxy.url}/v1/chat/completions", json=chat_body(seed=seed))
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "seed"


@pytest.mark.parametrize("seed", [2**63 - 1, -(2**63), 0])
def test_seed_inside_int64_is_accepted(replay_proxy: RunningProxy, seed: int):
    r = httpx.post(f"{replay_proxy.url}/v1/chat/completions", json=chat_body(seed=seed))
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/health", "/v1/models", "/v1/models/opus"])
def test_get_with_malformed_multipart_content_type_is_a_documented_400(
    replay_proxy: RunningProxy, path: str
):
    """schemathesis coverage probe: connexion parses a form body even on GET, so a multipart
    Content-Type without boundary is a 400; openapi.yaml now documents 400 on every GET."""
    r = httpx.get(f"{replay_proxy.url}{path}", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_writing_to_a_cli_that_already_exited_is_not_an_internal_error(tmp_path):
    """Found by the full suite: a CLI that dies before reading stdin made the stdin write
    raise (uvloop: RuntimeError "handler is closed"), so the client got "Internal error"
    instead of the CLI's exit code and stderr (tests/e2e test_cli_crash_without_result_is_502
    was flaky)."""
    proc = await CliProcess.spawn(
        ["sh", "-c", "echo 'boom' >&2; exit 3"], env={"PATH": os.environ["PATH"]}, cwd=tmp_path
    )
    assert await proc.wait() == 3
    await proc.write(b"x" * 200_000)  # more than a pipe buffer: the write must fail inside
    assert [line async for line in proc.lines()] == []
    assert proc.stderr_tail == "boom"
    await proc.kill(0.1)
