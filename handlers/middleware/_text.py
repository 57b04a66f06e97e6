"""Echoing request headers in error messages, safely."""

from __future__ import annotations


def shown(value: str) -> str:
    """A header value safe to put in a message: short, printable."""
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value[:100]
