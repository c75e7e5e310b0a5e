"""schemathesis with every check (``st run --checks all``: status codes, content types, schemas and headers of
responses, negative data refused, positive data accepted, missing auth headers, unsupported methods and their
``Allow``, auth really enforced, use after free, resources available after creation) against the app served by
uvicorn on a free port, with the demo data and an admin API key, on SQLite and PostgreSQL. Bounded: a fixed
number of examples per operation, a fixed seed, deterministic generation, no shrinking."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from litestar import Litestar

from crm import models as m
from crm.accounts.services import create_api_key
from crm.demo import seed_demo
from crm.directory.reference import ensure_reference_data
from tests.isolation import clean_database

HERE = Path(__file__).resolve().parent
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 5
SEED = 42
FUZZED = r"^/(api/|health$)"  # the webhook is signed by SendGrid, not an API a client calls (tests/mailing cover it)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: Litestar) -> Iterator[str]:
    """The app on a free port in a thread of this process (so it shares the test database)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_schemathesis(base_url: str, api_key: str, report: Path) -> tuple[int, str, dict]:
    command = [
        str(ST),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{base_url}/schema/openapi.json",
        "--checks",
        "all",
        "--include-path-regex",
        FUZZED,
        "--header",
        f"Authorization: Bearer {api_key}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--no-shrink",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # Run in the report's directory: schemathesis keeps a cache of earlier runs (.schemathesis/) in its working
    # directory and would replay them; each run here starts from nothing.
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent)
    output = done.stdout + done.stderr
    assert report.exists(), output[-5000:]
    return done.returncode, output, json.loads(report.read_text())


@pytest.mark.timeout(900)
def test_schemathesis_with_every_check_finds_nothing(app: Litestar, tmp_path: Path) -> None:
    clean_database(app.state.engine)
    with app.state.session_factory() as session:
        ensure_reference_data(session)
        seed_demo(session, app.state.settings)
        _, key = create_api_key(session, "schemathesis", m.Role.ADMIN)
        session.commit()
    app.state.rate_limiter.reset()
    with serving(app) as base_url:
        code, output, report = run_schemathesis(base_url, key, tmp_path / "report.json")
    tested = report.get("operations", {})
    summary = [f"{f['code']} x{f['count']}: {', '.join(f['operations'])}" for f in report.get("failures", [])]
    assert not summary and not report.get("errors") and code == 0, "\n".join(summary) + "\n\n" + output[-20000:]
    assert tested, output[-5000:]
