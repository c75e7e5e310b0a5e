"""``crm run`` as a developer meets it: links follow --port, one log format, the sign-in link printed last."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from crm.cli import link_base

ROOT = Path(__file__).resolve().parent.parent
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_link_base_reaches_a_wildcard_interface_on_localhost():
    assert link_base("0.0.0.0", 8101) == "http://127.0.0.1:8101"
    assert link_base("::", 9000) == "http://127.0.0.1:9000"
    assert link_base("::1", 9000) == "http://[::1]:9000"
    assert link_base("crm.local", 80) == "http://crm.local:80"


def test_run_on_another_port_prints_links_to_that_port_and_the_sign_in_link_last(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CRM_BASE_URL"}
    env.update(CRM_DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}", CRM_ENV="development", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm.cli", "run", "--port", str(port), "--no-worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "/sign-in/verify?token=" in line:
                break
        output = "\n".join(lines)
        link = next(line.strip() for line in lines if "/sign-in/verify?token=" in line)
        assert link.startswith(f"http://127.0.0.1:{port}/sign-in/verify?token="), output
        assert f"Roundtable CRM is running at http://127.0.0.1:{port}" in output
        assert ":8000" not in output
        # The server was accepting requests before the link was printed: nothing of its start-up follows it.
        running = next(i for i, line in enumerate(lines) if "Uvicorn running on" in line)
        assert running < lines.index(next(line for line in lines if "/sign-in/verify?token=" in line))
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.status == 200
        # One log format for the product and the web server; no scheduler chatter at INFO.
        logged = [line for line in lines if re.match(r"^\d{4}-", line)]
        assert logged and all(LOG_LINE.match(line) for line in logged), output
        assert not any(line.startswith(("INFO:", "INFO -")) for line in lines), output
        assert "Adding job" not in output
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
