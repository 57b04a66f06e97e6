"""Images through the proxy and the real CLI: data URLs and fetched http URLs reach the fake
upstream as image blocks (base64 byte-identical); bad or private-address images are 400s
naming the part, before any CLI starts."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, upstream_requests
from tests.image_server import PNG, ImageServer, image_server

PNG_B64 = base64.b64encode(PNG).decode()
# A second, different image: the same pixel as a GIF, so two images are told apart.
GIF_B64 = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


@pytest.fixture(scope="module")
def images() -> Iterator[ImageServer]:
    with image_server() as running:
        yield running


@pytest.fixture(scope="module")
def private_ok_proxy(base_settings: Settings) -> Iterator[RunningProxy]:
    with serve(replace(base_settings, image_url_allow_private=True)) as running:
        yield running


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def images_sent(upstream: FakeAnthropic, marker: str) -> list[dict[str, Any]]:
    """The image blocks of the one upstream request's last user message (the CLI adds
    `role: system` entries of its own after it)."""
    found = upstream_requests(upstream, marker)
    assert len(found) == 1
    last = [m for m in found[0]["body"]["messages"] if m["role"] == "user"][-1]
    assert any(marker in b.get("text", "") for b in last["content"] if b["type"] == "text")
    return [b for b in last["content"] if b["type"] == "image"]


def test_data_url_images_reach_the_upstream_byte_identical(
    openai_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    completion = openai_client.chat.completions.create(
        model="opus",
        messages=[
            {"role": "system", "content": "Describe images."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"{marker} what are these?"},
                    image_part(f"data:image/png;base64,{PNG_B64}"),
                    {"type": "input_image", "image_url": f"data:image/gif;base64,{GIF_B64}"},
                ],
            },
        ],
    )
    assert completion.choices[0].message.content
    assert images_sent(upstream, marker) == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": GIF_B64}},
    ]


def test_http_image_reaches_the_upstream_with_allow_private(
    private_ok_proxy: RunningProxy, images: ImageServer, upstream: FakeAnthropic, marker: str
):
    with httpx.Client(timeout=60) as client:
        reply = client.post(
            f"{private_ok_proxy.v1}/chat/completions",
            json={
                "model": "sonnet",
                "messages": [
                    {"role": "user", "content": "earlier"},
                    {"role": "assistant", "content": "yes"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": f"{marker} and this one?"},
                            image_part(f"{images.url}/redirect/2"),
                        ],
                    },
                ],
            },
        )
    assert reply.status_code == 200, reply.text
    assert images_sent(upstream, marker) == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    ]


def test_127_0_0_1_image_url_refused_by_default(
    http: httpx.Client, images: ImageServer, upstream: FakeAnthropic, marker: str
):
    before = len(images.seen)
    reply = http.post(
        "/v1/chat/completions",
        json={
            "model": "opus",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": marker}, image_part(f"{images.url}/png")],
                },
            ],
        },
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages.2.content.1"
    assert error["code"] == "invalid_image_url"
    assert "non-public" in error["message"]
    assert len(images.seen) == before
    assert upstream_requests(upstream, marker) == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("data:image/png;base64,not base64!", "invalid_image_format"),
        (f"data:image/jpeg;base64,{PNG_B64}", "invalid_image_format"),
        ("data:image/bmp;base64,Qk0=", "invalid_image_format"),
        ("ftp://example.com/a.png", "invalid_image_url"),
    ],
)
def test_bad_images_are_400s_naming_the_part(
    http: httpx.Client, upstream: FakeAnthropic, marker: str, url: str, code: str
):
    reply = http.post(
        "/v1/chat/completions",
        json={
            "model": "opus",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": marker}, image_part(url)]}
            ],
        },
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "messages.0.content.1",
        code,
    )
    assert upstream_requests(upstream, marker) == []
