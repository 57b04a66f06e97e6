"""Fixtures of the client-tool tests: a proxy of their own per module, so a tool call a test
leaves waiting (its process holds the call for `--tool-result-timeout`) is gone with the module
and never counts as a leftover CLI in another test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import openai
import pytest

from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve
from tests.contract import Contract


@pytest.fixture(scope="module")
def tool_proxy(base_settings: Settings) -> Iterator[RunningProxy]:
    with serve(replace(base_settings, session_idle=30)) as running:
        yield running


@pytest.fixture
def tool_client(tool_proxy: RunningProxy, contract: Contract) -> Iterator[openai.OpenAI]:
    with httpx.Client(timeout=60, event_hooks={"response": [contract.hook]}) as http:
        yield openai.OpenAI(base_url=tool_proxy.v1, api_key="sk-x", max_retries=0, http_client=http)
