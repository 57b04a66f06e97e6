"""Image bytes or `data:` URLs -> Anthropic `image` blocks, checked before the upstream sees them.

The Messages API takes png, jpeg, gif and webp as base64, at most 5 MB of base64 per image, and
refuses an image whose bytes are not the media type it claims. The proxy checks the same
things first, so a bad image is a 400 naming the client's part, not an upstream failure after
a CLI start. A data URL's base64 goes into the block byte-identical: it is decoded only to
check it. Pure functions: tested without sockets (the fetching is handlers/images.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequest
from .protocol.blocks import ImageBlock

# The upstream's per-image limit is 5 MB of base64: 3.75 MiB of image bytes.
MAX_BASE64_CHARS = 5 * 1024 * 1024
MAX_IMAGE_BYTES = MAX_BASE64_CHARS // 4 * 3
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
# Labels that say nothing about the bytes (object stores serve images as these): sniff.
GENERIC_TYPES = ("application/octet-stream", "binary/octet-stream")

BAD_FORMAT = "invalid_image_format"
TOO_LARGE = "image_too_large"
BAD_URL = "invalid_image_url"


def sniff(data: bytes) -> str | None:
    """The media type the first bytes say, among the four the upstream takes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def normalize_type(declared: str | None) -> str | None:
    """`Image/JPG; charset=x` -> `image/jpeg`; None or blank -> None."""
    if declared is None:
        return None
    bare = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare) or None


def _refuse(message: str, param: str, code: str = BAD_FORMAT) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def media_type_of(data: bytes, declared: str | None, param: str, *, sniff_generic: bool) -> str:
    """The checked media type of `data`: a supported type its magic bytes confirm.

    `declared` is the data URL's or the response's type; with `sniff_generic` (HTTP), a
    missing or generic binary type leaves it to the bytes."""
    kind = normalize_type(declared)
    actual = sniff(data)
    generic = kind is None or kind in GENERIC_TYPES
    if generic and sniff_generic:
        if actual is None:
            raise _refuse("the image is not png, jpeg, gif or webp", param)
        return actual
    if kind not in MEDIA_TYPES:
        raise _refuse(
            f"unsupported image type `{declared or 'none'}`: send png, jpeg, gif or webp "
            f"({', '.join(MEDIA_TYPES)})",
            param,
        )
    if actual != kind:
        found = f"`{actual}`" if actual else "not an image of a supported type"
        raise _refuse(f"the image is declared `{kind}` but its bytes are {found}", param)
    return kind


def _check_size(size: int, param: str) -> None:
    if size > MAX_IMAGE_BYTES:
        raise _refuse(
            f"the image is {size} bytes; at most {MAX_IMAGE_BYTES} bytes are accepted "
            "(5 MB of base64)",
            param,
            TOO_LARGE,
        )


def block(media_type: str, data: str) -> ImageBlock:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def block_from_bytes(
    data: bytes, declared: str | None, param: str, *, sniff_generic: bool = False
) -> ImageBlock:
    """Raw image bytes (a fetched URL's body) -> an image block, or a 400 naming `param`."""
    _check_size(len(data), param)
    media_type = media_type_of(data, declared, param, sniff_generic=sniff_generic)
    return block(media_type, base64.b64encode(data).decode("ascii"))


def split_data_url(url: str, param: str) -> tuple[str | None, str]:
    """`data:image/png;base64,AAAA` -> ("image/png", "AAAA"). Only base64 data URLs carry
    images; a missing media type is RFC 2397's `text/plain`, so None here."""
    head, comma, payload = url.partition(",")
    if not head[:5].lower() == "data:" or not comma:
        raise _refuse("a data URL looks like `data:image/png;base64,<data>`", param)
    fields = [f.strip() for f in head[5:].split(";")]
    if len(fields) < 2 or fields[-1].lower() != "base64":
        raise _refuse("only base64 data URLs are accepted (`data:image/png;base64,...`)", param)
    return (fields[0] or None), payload


def block_from_data_url(url: str, param: str) -> ImageBlock:
    """A `data:` URL -> an image block with the URL's base64 unchanged, or a 400."""
    declared, payload = split_data_url(url, param)
    if len(payload) > MAX_BASE64_CHARS:
        raise _refuse(
            f"the image's base64 is {len(payload)} characters; at most {MAX_BASE64_CHARS} "
            "are accepted",
            param,
            TOO_LARGE,
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = None
    # Strict: standard alphabet, padded, no whitespace, canonical (what b64encode writes).
    if data is None or not data or base64.b64encode(data).decode("ascii") != payload:
        raise _refuse("the data URL's base64 does not decode (standard, padded base64)", param)
    media_type = media_type_of(data, declared, param, sniff_generic=False)
    return block(media_type, payload)


def url_of(part: Mapping[str, Any], param: str) -> str:
    """The image URL of an OpenAI image part: `image_url` ({"url": ...}) or `input_image`
    (a string `image_url`, or `file_id`, which this proxy has no store for)."""
    kind = part.get("type")
    value = part.get("image_url")
    if kind == "input_image" and value is None and part.get("file_id") is not None:
        raise _refuse("`file_id` images are not supported: send `image_url`", param, BAD_URL)
    if isinstance(value, Mapping):  # `image_url` parts; accepted on `input_image` too
        value = value.get("url")
    if not isinstance(value, str) or not value:
        field = "image_url.url" if kind == "image_url" else "image_url"
        raise InvalidRequest(f"an `{kind}` part needs a string `{field}`", param=param)
    return value


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def is_http_url(url: str) -> bool:
    scheme = url.partition(":")[0].lower()
    return scheme in ("http", "https")


def unsupported_url(url: str, param: str) -> InvalidRequest:
    scheme = url.partition(":")[0][:20]
    return _refuse(f"image URLs must be `data:` or `http(s)` URLs, not `{scheme}:`", param, BAD_URL)
