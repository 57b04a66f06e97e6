"""cli_bridge/images.py: image bytes and data URLs -> checked image blocks, or 400s naming
the part."""

from __future__ import annotations

import base64

import pytest

from cli_bridge.errors import InvalidRequest
from cli_bridge.images import (
    MAX_BASE64_CHARS,
    MAX_IMAGE_BYTES,
    block_from_bytes,
    block_from_data_url,
    normalize_type,
    sniff,
    split_data_url,
    url_of,
)

PARAM = "messages.2.content.1"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SAMPLES = {
    "image/png": PNG,
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20,
    "image/gif": b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20,
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
}


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def refused(call, *args, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        call(*args, **kwargs)
    assert info.value.status == 400
    assert info.value.type == "invalid_request_error"
    assert info.value.param == PARAM
    return info.value


@pytest.mark.parametrize("media_type", list(SAMPLES))
def test_each_format_by_magic_bytes(media_type):
    data = SAMPLES[media_type]
    assert sniff(data) == media_type
    url = data_url(media_type, data)
    block = block_from_data_url(url, PARAM)
    assert block == {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": url.split(",", 1)[1]},
    }
    assert block_from_bytes(data, media_type, PARAM)["source"]["media_type"] == media_type


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x89PNX\r\n\x1a\n", b"BM\x00\x00", b"GIF8"],
)
def test_other_bytes_are_no_image(data):
    assert sniff(data) is None


def test_data_url_base64_is_passed_through_byte_identical():
    payload = base64.b64encode(PNG + b"\x00" * 1000).decode()
    block = block_from_data_url(f"data:image/png;base64,{payload}", PARAM)
    assert block["source"]["data"] == payload


@pytest.mark.parametrize(
    ("declared", "data", "says"),
    [
        ("image/jpeg", PNG, "declared `image/jpeg` but its bytes are `image/png`"),
        ("image/png", b"<html></html>", "not an image of a supported type"),
        ("image/bmp", b"BM" + b"\x00" * 30, "unsupported image type `image/bmp`"),
        ("image/svg+xml", b"<svg/>", "unsupported image type"),
        ("text/plain", PNG, "unsupported image type `text/plain`"),
    ],
)
def test_wrong_or_unsupported_declared_type(declared, data, says):
    error = refused(block_from_data_url, data_url(declared, data), PARAM)
    assert says in error.message
    assert error.code == "invalid_image_format"
    refused(block_from_bytes, data, declared, PARAM)


def test_declared_type_is_normalized():
    assert normalize_type(" Image/JPG; charset=binary") == "image/jpeg"
    assert normalize_type("") is None
    assert block_from_data_url(data_url("IMAGE/PNG", PNG), PARAM)["source"]["media_type"] == (
        "image/png"
    )
    jpeg = SAMPLES["image/jpeg"]
    assert block_from_data_url(data_url("image/jpg", jpeg), PARAM)["source"]["media_type"] == (
        "image/jpeg"
    )


def test_generic_types_are_judged_by_bytes_only_when_asked():
    for declared in (None, "application/octet-stream", "binary/octet-stream"):
        got = block_from_bytes(PNG, declared, PARAM, sniff_generic=True)
        assert got["source"] == {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(PNG).decode(),
        }
        refused(block_from_bytes, PNG, declared, PARAM)  # a data URL must say what it is
    refused(block_from_bytes, b"plain text", None, PARAM, sniff_generic=True)


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,iVBORw0KGgo=\n",  # whitespace
        "data:image/png;base64,iVBORw0KGgo",  # unpadded
        "data:image/png;base64,iVBORw0KGgo*AAA",  # outside the alphabet
        "data:image/png;base64,iVBORw0KGgo-_==",  # URL-safe alphabet
        "data:image/png;base64,iVBORw0KGgoAAAAN=",  # bad padding
        "data:image/png;base64,iVBORw0KGgp=",  # non-canonical trailing bits
        "data:image/png;base64,",  # empty
        "data:image/png;base64,iVBORw0KGgo\u00e9AA=",  # non-ASCII
    ],
)
def test_undecodable_base64(url):
    assert "base64" in refused(block_from_data_url, url, PARAM).message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("data:image/png,rawbytes", "only base64 data URLs"),
        ("data:image/png;charset=x,abc", "only base64 data URLs"),
        ("data:image/png;base64", "looks like"),
        ("dat:image/png;base64,AAAA", "looks like"),
    ],
)
def test_malformed_data_urls(url, says):
    assert says in refused(block_from_data_url, url, PARAM).message


def test_data_url_without_media_type_is_text_plain_so_refused():
    assert split_data_url("data:;base64,AAAA", PARAM) == (None, "AAAA")
    url = "data:;base64," + base64.b64encode(PNG).decode()
    assert "unsupported image type" in refused(block_from_data_url, url, PARAM).message


def test_data_url_parameters_and_case():
    payload = base64.b64encode(PNG).decode()
    block = block_from_data_url(f"DATA:image/png;name=a.png;BASE64,{payload}", PARAM)
    assert block["source"]["data"] == payload


def test_size_cap():
    assert MAX_IMAGE_BYTES * 4 // 3 == MAX_BASE64_CHARS
    at_cap = PNG + b"\x00" * (MAX_IMAGE_BYTES - len(PNG))
    assert len(block_from_data_url(data_url("image/png", at_cap), PARAM)["source"]["data"]) == (
        MAX_BASE64_CHARS
    )
    assert block_from_bytes(at_cap, "image/png", PARAM)["type"] == "image"
    over = at_cap + b"\x00"
    for error in (
        refused(block_from_data_url, data_url("image/png", over), PARAM),
        refused(block_from_bytes, over, "image/png", PARAM),
    ):
        assert error.code == "image_too_large"


def test_url_of_both_part_forms():
    assert url_of({"type": "image_url", "image_url": {"url": "https://x/a.png"}}, PARAM) == (
        "https://x/a.png"
    )
    assert url_of({"type": "input_image", "image_url": "data:x", "detail": "auto"}, PARAM) == (
        "data:x"
    )
    for part in (
        {"type": "image_url"},
        {"type": "image_url", "image_url": {"url": 5}},
        {"type": "image_url", "image_url": {}},
        {"type": "input_image", "image_url": ""},
    ):
        refused(url_of, part, PARAM)
    error = refused(url_of, {"type": "input_image", "file_id": "file-1", "detail": "auto"}, PARAM)
    assert "file_id" in error.message
