"""Helpers for tests of refused requests: the envelope, the request id, and proof that no
CLI process was started."""

from __future__ import annotations

import time

import httpx
import yaml
from openapi_core.templating.paths.exceptions import PathError
from openapi_schema_validator import OAS30Validator

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from tests.conftest import cli_children, upstream_requests
from tests.contract import SPEC_PATH, Contract

_SPEC = yaml.safe_load(SPEC_PATH.read_text())
ERROR_SCHEMA = OAS30Validator(
    {**_SPEC["components"]["schemas"]["ErrorResponse"], "components": _SPEC["components"]}
)


def refused(contract: Contract, r: httpx.Response, status: int, code: str | None = None) -> dict:
    """Assert an OpenAI-envelope refusal and return its `error` object. Responses to
    operations the spec has (every route) go through the contract; preflights and unknown
    paths have no operation, so their body is checked against ErrorResponse directly."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("x-request-id")
    try:
        contract.check(r)
    except PathError:  # no operation for this method/path in openapi.yaml
        ERROR_SCHEMA.validate(r.json())
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code
    return error


def chat_body(marker: str, **extra: object) -> dict:
    """A valid chat request whose CLI, if ever started, would hang (and so be seen)."""
    content = f"{marker} {fake_directive(hang=True)}"
    return {"model": "opus", "messages": [{"role": "user", "content": content}], **extra}


def assert_no_cli(upstream: FakeAnthropic, marker: str) -> None:
    """No CLI process is alive and none reached the upstream for this marker."""
    assert cli_children() == []
    time.sleep(0.2)
    assert cli_children() == []
    assert upstream_requests(upstream, marker) == []
