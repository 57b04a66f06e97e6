"""Scriptable fake of the Anthropic Messages API, for driving the real `claude` CLI offline.

Behaviour is set globally (`POST /__control`, `FakeAnthropic.control`) or per request by a
`<<fake:{...json...}>>` marker in the last user message (see `fake_directive`; a `tool_plan`
one holds for the whole agent loop, see `fake_tools`), so concurrent tests sharing one server
do not interfere. Every request is logged with the exact usage sent, to compare with the proxy's.

Misbehaviour (`status`, `fail_mid_stream`, `hang`, `hang_before_headers`) hits only requests it
can apply to (mid-stream faults spare the CLI's non-streaming fallback) and is counted by
`fail_count`: globally, or per distinct directive text (add a unique key such as "id" to keep
concurrent tests apart). Control endpoints (`/__*`) are not logged.

Like the real API, it refuses (400) a history whose tool blocks break the Messages API's rules
(`cli_bridge.protocol.history_rules`), whatever the settings say.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cli_bridge.protocol.history_rules import check_tool_history
from conformance.fake_replies import (
    DEFAULTS,
    ERROR_TYPES,
    LOG_KEYS,
    block_stream,
    build_message,
    estimate_tokens,
    fake_directive,
    plan_blocks,
    redact,
    settle,
)
from conformance.fake_tools import PlanError, find_directive, plan_settings, plan_step

__all__ = ["FakeAnthropic", "fake_directive"]

MAX_STALL = 600.0


class _Abort(Exception):
    """Unwinds a stream that must end early (hang finished, client gone)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeAnthropic

    def server_bind(self) -> None:
        """Skip HTTPServer's getfqdn(): a reverse DNS lookup can stall on offline machines."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed CLI resets its keep-alive connection: normal here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeAnthropic:
    """In-process fake server; `start()` serves from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_path: str | None = None) -> None:
        self.host, self.port, self.log_path = host, port, log_path
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._settings: dict[str, Any] = {}
        self._log: list[dict[str, Any]] = []
        self._failures: dict[str, int] = {}
        self._n = 0
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeAnthropic:
        self._stop.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake stalled handlers and drop keep-alive sockets so stopping never waits on a client."""
        self._stop.set()
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        deadline = time.monotonic() + 3  # let woken handlers finish their log lines
        while self._conns and time.monotonic() < deadline:
            time.sleep(0.02)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Deep copy, so a test can inspect it while handlers are still filling entries in."""
        with self._lock:
            return json.loads(json.dumps(self._log))

    def control(self, **settings: Any) -> None:
        """Merge global settings; restarts the global `fail_count` tally."""
        with self._lock:
            self._settings.update(settings)
            self._failures.pop("", None)

    def reset(self) -> None:
        """Back to defaults, empty log, request numbering restarts at 1."""
        with self._lock:
            self._settings.clear()
            self._log.clear()
            self._failures.clear()
            self._n = 0

    def __enter__(self) -> FakeAnthropic:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # --- plumbing -----------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the JSON request log is the record."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if self.command == "HEAD" else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:20])
        for key, value in (headers or {}).items():
            self.send_header(str(key), str(value))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        err = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
        self._send_json(status, {"type": "error", "error": err}, headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, kind: str, **fields: Any) -> None:
        data = json.dumps({"type": kind, **fields})
        self._chunk(f"event: {kind}\ndata: {data}\n\n".encode())

    def _stall(self) -> bool:
        """Wait until the client hangs up (True) or the server stops / MAX_STALL passes."""
        stop, deadline = self.server.fake._stop, time.monotonic() + MAX_STALL
        while not stop.is_set() and time.monotonic() < deadline:
            if select.select([self.connection], [], [], 0.2)[0]:
                try:
                    gone = not self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    gone = True
                if gone:  # stop() also shuts sockets down: that is not the client leaving
                    return not stop.is_set()
                stop.wait(0.2)
        return False

    # --- dispatch -----------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Never let an exception escape: a bad request must not take the server down."""
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        # All keys exist from the start, so `requests` can copy an entry while it is filled in.
        entry: dict[str, Any] = dict.fromkeys(LOG_KEYS)
        entry.update(ts=time.time(), method=self.command, path=path, query=query)
        entry.update(headers=redact(dict(self.headers.items())), client_disconnected=False)
        logged = not path.startswith("/__")
        if logged:
            with fake._lock:
                fake._log.append(entry)
        try:
            self._route(path, entry)
        except _Abort:
            self.close_connection = True
        except OSError:  # includes BrokenPipe / ConnectionReset: the client went away
            entry["client_disconnected"] = True
            self.close_connection = True
        except Exception as exc:  # report it to the client, keep serving
            entry["exception"] = repr(exc)
            self.close_connection = True
            if entry["status"] is None:
                entry["status"] = 500
                with contextlib.suppress(OSError):
                    self._send_error(500, f"fake server bug: {exc!r}")
        finally:
            if logged and fake.log_path:
                with fake._lock, open(fake.log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")

    do_HEAD = do_GET = do_POST = do_PUT = do_DELETE = do_CONNECT = _dispatch

    def _route(self, path: str, entry: dict[str, Any]) -> None:
        fake = self.server.fake
        if self.command == "CONNECT":
            entry["status"] = 403
            self.close_connection = True
            return self._send_error(403, "CONNECT refused by fake server")
        raw = self._read_body() if self.command in ("POST", "PUT") else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                entry["body"] = raw[:2000].decode("utf-8", "replace")
                entry["status"] = 400
                return self._send_error(400, "request body is not valid JSON")
        entry["body"] = body
        if path == "/__control" and self.command == "POST":
            if not isinstance(body, dict):
                return self._send_error(400, "control body must be a JSON object")
            fake.control(**body)
            with fake._lock:
                return self._send_json(200, {**DEFAULTS, **fake._settings})
        if path == "/__reset" and self.command == "POST":
            fake.reset()
            return self._send_json(200, {"ok": True})
        if path == "/__requests" and self.command == "GET":
            return self._send_json(200, fake.requests)
        if path == "/v1/messages" and self.command == "POST":
            return self._messages(body, entry)
        entry["status"] = 200
        if path == "/v1/messages/count_tokens" and self.command == "POST":
            return self._send_json(200, {"input_tokens": estimate_tokens(body)})
        if path.startswith("/v1/models") and self.command == "GET":
            return self._send_json(200, {"data": [], "has_more": False})
        entry["status"] = 404
        return self._send_error(404, f"not found: {self.command} {path}")

    # --- /v1/messages -------------------------------------------------------------------
    def _messages(self, body: Any, entry: dict[str, Any]) -> None:
        fake = self.server.fake
        if not isinstance(body, dict):
            entry["status"] = 400
            return self._send_error(400, "body must be a JSON object")
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        # The real API's rules on tool blocks come before anything scripted (claude-cli.md §15).
        if (refusal := check_tool_history(messages, body.get("tools"))) is not None:
            entry.update(status=400, outcome="invalid_history")
            return self._send_error(400, refusal.message)
        found = find_directive(messages)
        if (directive := found.settings()) is None:
            entry["status"] = 400
            return self._send_error(400, f"bad fake directive: {found.raw}")
        stream = bool(body.get("stream"))
        with fake._lock:
            fake._n += 1
            n = fake._n
            s, bad = settle(fake._settings, directive, found.raw, fake._failures, stream, body)
        entry.update(n=n, stream=stream, directive=directive or None, settings=s)
        entry["misbehaved"] = bad
        if bad and s["hang_before_headers"]:
            entry["outcome"] = "hang_before_headers"
            entry["client_disconnected"] = self._stall()
            self.close_connection = True
            return
        if s["delay_before_headers"]:
            fake._stop.wait(float(s["delay_before_headers"]))
        if bad and s["status"]:
            entry["status"] = int(s["status"])
            entry["outcome"] = "error_status"
            return self._send_error(entry["status"], str(s["error_message"]), s["fail_headers"])
        if s["tool_plan"] is not None:
            try:
                step = plan_step(s["tool_plan"], messages, found.index or 0, body.get("tools"))
            except PlanError as exc:
                entry.update(status=400, outcome="bad_plan")
                return self._send_error(400, str(exc))
            entry["plan_step"] = step.log()
            s = plan_settings(s, step)
        blocks = plan_blocks(s, str(body.get("model") or "unknown"), len(messages), n)
        message = build_message(s, body, blocks)
        entry.update(status=200, usage=message["usage"], message_id=message["id"], outcome="ok")
        if not stream:
            return self._send_json(200, message)
        self._stream(message, s, bad, entry)

    def _stream(self, message: dict[str, Any], s: dict[str, Any], bad: bool, entry: Any) -> None:
        """Real SSE over chunked encoding, flushed per event so the client sees each delta."""
        fake = self.server.fake
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:20])
        self.end_headers()
        usage = message["usage"]
        # Log what was really sent: a cut-off stream only ever reported message_start's usage.
        entry["usage"] = {**usage, "output_tokens": 1}
        start = {**message, "content": [], "stop_reason": None, "usage": entry["usage"]}
        self._event("message_start", message=start)
        if bad and s["fail_mid_stream"]:
            entry["outcome"] = "mid_stream_error"
            self._event("error", error={"type": "overloaded_error", "message": "Overloaded"})
            self._chunk(b"")
            self.close_connection = True
            return
        self._event("ping")
        hang = bad and bool(s["hang"])
        delay, n_chunks = float(s["chunk_delay"]), int(s["n_chunks"])
        for i, block in enumerate(message["content"]):
            first, pieces = block_stream(block, n_chunks)
            self._event("content_block_start", index=i, content_block=first)
            for j, piece in enumerate(pieces):
                if delay and (i or j):  # between deltas, not before the first
                    fake._stop.wait(delay)
                self._event("content_block_delta", index=i, delta=piece)
                if hang:
                    self._hang(entry)
            self._event("content_block_stop", index=i)
        if hang:
            self._hang(entry)
        md = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        self._event("message_delta", delta=md, usage={"output_tokens": usage["output_tokens"]})
        entry["usage"] = usage
        self._event("message_stop")
        self._chunk(b"")

    def _hang(self, entry: dict[str, Any]) -> None:
        entry["outcome"] = "hang"
        gone = self._stall()
        if not gone and self.server.fake._stop.is_set():
            entry["outcome"] = "server_stopped"
        entry["client_disconnected"] = gone
        raise _Abort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log", default=None, help="append one JSON line per request here")
    args = parser.parse_args()
    fake = FakeAnthropic(args.host, args.port, args.log).start()
    print(f"listening on {fake.url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
