"""A local HTTP server that plays SendGrid's Mail Send API (http.server in a thread).

Script responses with ``server.script(...)``; each request pops the next scripted behaviour (the last one
repeats). Behaviours: an int status (202 adds X-Message-Id), ``("429", reset_epoch_or_None)``, ``"502-html"``,
``"slow"`` (sleeps longer than the client's timeout, then answers 202), ``"drop"`` (reads the request, closes
the connection without answering). Every request is recorded (path, headers, parsed JSON), and every
personalization it received in full as (outbox id, recipient, request number) in ``received`` (what SendGrid accepted: a body cut
short by a client that died is not). ``active`` counts requests being handled. ``GET /_records?since=N`` answers
them as JSON, for tests that run the fake in its own process (``python -m tests.mailing.fake_sendgrid PORT
LATENCY record``).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSendGrid:
    def __init__(self, latency: float | tuple[float, float] = 0.0, record_bodies: bool = True, port: int = 0) -> None:
        self.latency = latency  # seconds before answering, or (low, high): a random time between them
        self.record_bodies = record_bodies
        self.requests: list[dict[str, Any]] = []
        self.request_count = 0
        self.personalizations = 0
        self.received: list[tuple[int, str, int]] = []  # (outbox id, recipient, request number)
        self.active = 0
        self.record_ids = record_bodies
        self._script: list[Any] = [202]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.slow_seconds = 3.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                counts: dict[str, Any] = {"requests": fake.request_count, "personalizations": fake.personalizations}
                if self.path.startswith("/_records"):  # /_records?since=N: what was received from the N-th on
                    since = int(self.path.partition("since=")[2] or 0)
                    with fake._lock:
                        counts.update(active=fake.active, total=len(fake.received), received=fake.received[since:])
                self._answer(200, json.dumps(counts).encode())

            def do_POST(self) -> None:
                with fake._lock:
                    fake.active += 1
                try:
                    self._post()
                finally:
                    with fake._lock:
                        fake.active -= 1

            def _post(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if len(raw) < length:  # the client died mid-body: SendGrid never accepted this request
                    self.close_connection = True
                    return
                behaviour = fake._next(raw, dict(self.headers), self.path)
                if fake.latency:
                    low, high = fake.latency if isinstance(fake.latency, tuple) else (fake.latency, fake.latency)
                    time.sleep(random.uniform(low, high))
                if behaviour == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if behaviour == "slow":
                    time.sleep(fake.slow_seconds)
                    behaviour = 202
                if behaviour == "502-html":
                    self._answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
                    return
                if isinstance(behaviour, tuple) and behaviour[0] == "429":
                    headers = {"X-RateLimit-Reset": str(behaviour[1])} if behaviour[1] else {}
                    self._answer(429, b'{"errors":[{"message":"too many requests"}]}', headers=headers)
                    return
                status = int(behaviour)
                if status in (200, 202):
                    self._answer(status, b"", headers={"X-Message-Id": f"msg{next(fake._ids)}"})
                else:
                    body = json.dumps({"errors": [{"message": f"error {status}", "field": None}]}).encode()
                    self._answer(status, body)

            def _answer(
                self,
                status: int,
                body: bytes,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client is gone (a crash trial killed it): nobody to answer
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *behaviours: Any) -> None:
        with self._lock:
            self._script = list(behaviours)

    def _next(self, raw: bytes, headers: dict[str, str], path: str) -> Any:
        with self._lock:
            self.request_count += 1
            behaviour = self._script.pop(0) if len(self._script) > 1 else self._script[0]
            if self.record_bodies:
                body = json.loads(raw) if raw else {}
                self.personalizations += len(body.get("personalizations", []))
                self.requests.append({"path": path, "headers": headers, "json": body})
            else:  # benchmarks: count personalizations without parsing megabytes of JSON
                body = json.loads(raw) if self.record_ids and raw else {}
                self.personalizations += raw.count(b'"crm_outbox_id"')
            if self.record_ids and behaviour in (200, 202):
                for p in body.get("personalizations", []):
                    self.received.append(
                        (int(p["custom_args"]["crm_outbox_id"]), p["to"][0]["email"], self.request_count)
                    )
            return behaviour

    def events(self) -> list[dict[str, Any]]:
        return processed_events(self.received)

    def __enter__(self) -> FakeSendGrid:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def processed_events(received: list[Any]) -> list[dict[str, Any]]:
    """The signed Event Webhook's ``processed`` events for what was received (SendGrid posts one per message)."""
    now = int(time.time())
    return [
        {
            "email": email,
            "event": "processed",
            "sg_event_id": f"processed-{outbox_id}-{request}",
            "sg_message_id": f"fake{request}.{outbox_id}",
            "timestamp": now,
            "crm_outbox_id": str(outbox_id),
        }
        for outbox_id, email, request in received
    ]


def serve_forever(port: int, latency: float | tuple[float, float], record_ids: bool = False) -> None:
    """Run as its own process: ``python -m tests.mailing.fake_sendgrid PORT LATENCY [record]`` (benchmarks; the
    crash trials with ``record``); LATENCY is seconds or LOW-HIGH. With PORT 0, prints the port it listens on."""
    fake = FakeSendGrid(latency=latency, record_bodies=False, port=port)
    fake.record_ids = record_ids
    with fake:
        if port == 0:  # the caller needs to learn the port
            print(fake.server.server_address[1], flush=True)
        threading.Event().wait()


class FakeSendGridProcess:
    """The fake in a process of its own (``with FakeSendGridProcess(latency) as fake: fake.url, fake.counts()``),
    as the real SendGrid is remote and its CPU is not ours: what the benchmarks send to."""

    def __init__(self, latency: float) -> None:
        import os
        import socket
        import subprocess
        import sys
        from pathlib import Path

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mailing.fake_sendgrid", str(self.port), str(latency)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )

    def counts(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/counts", timeout=5) as response:
            return json.loads(response.read())

    def __enter__(self) -> FakeSendGridProcess:
        deadline = time.monotonic() + 15
        while True:
            try:
                self.counts()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


if __name__ == "__main__":
    import sys

    low, _, high = sys.argv[2].partition("-")
    latency = (float(low), float(high)) if high else float(low)
    serve_forever(int(sys.argv[1]), latency, len(sys.argv) > 3 and sys.argv[3] == "record")
