"""A tiny HTTP server on 127.0.0.1 that serves images, and misbehaves on purpose.

Routes: `/png` (image/png), `/octet` (a png as application/octet-stream), `/html`,
`/status/N`, `/redirect/N` (N hops, then `/png`), `/loop` (redirects to itself), `/to?url=U`
(302 to U), `/endless` (image/png bytes forever, no length), `/huge` (announces 1 GB),
`/slow` (headers after 3 s), `/drip` (a byte every 0.2 s). It records every request's path
and Host header.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str]] = []  # (path, Host header)
        self.sent: dict[str, int] = {}  # path -> body bytes written before the client left

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ImageServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "image/png", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, chunk: bytes, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(PNG)
            while sent < 1 << 30:
                self.wfile.write(chunk)
                sent += len(chunk)
                if pause:
                    time.sleep(pause)
        except OSError:
            pass
        finally:
            self.server.sent[self.path] = sent

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        route = urlsplit(self.path)
        parts = route.path.strip("/").split("/")
        if parts[0] == "png":
            self._send(200, PNG)
        elif parts[0] == "octet":
            self._send(200, PNG, "application/octet-stream")
        elif parts[0] == "html":
            self._send(200, PNG, "text/html; charset=utf-8")
        elif parts[0] == "status":
            self._send(int(parts[1]), b"nope", "text/plain")
        elif parts[0] == "redirect":
            hops = int(parts[1])
            target = f"/redirect/{hops - 1}" if hops > 1 else "/png"
            self._send(302, b"", "text/plain", Location=target)
        elif parts[0] == "loop":
            self._send(302, b"", "text/plain", Location="/loop")
        elif parts[0] == "to":
            self._send(302, b"", "text/plain", Location=parse_qs(route.query)["url"][0])
        elif parts[0] == "endless":
            self._stream(b"\x00" * 65536, 0)
        elif parts[0] == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(PNG)
        elif parts[0] == "slow":
            time.sleep(3)
            with contextlib.suppress(OSError):
                self._send(200, PNG)
        elif parts[0] == "drip":
            self._stream(b"\x00", 0.2)
        else:
            self._send(404, b"no such route", "text/plain")


@contextlib.contextmanager
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
