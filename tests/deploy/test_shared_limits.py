"""Two real web processes, one database, one Redis: a rate limit is one limit for the whole site (issue 21.3).

Each process is ``crm run --no-worker --no-seed`` on its own port, as two replicas behind a proxy would be. The
sign-in form allows ``CRM_SIGN_IN_RATE_PER_HOUR`` requests per address; posting it alternately to both ports must
reach that limit once, not once per process. Without ``CRM_REDIS_URL`` the same run shows today's behaviour: each
process counts on its own. Skipped, with the reason, when no Redis answers.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.accounts.services import ensure_user
from tests.conftest import Database
from tests.deploy.conftest import REDIS_TEST_URL, forget_namespace, redis_or_skip

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3  # CRM_SIGN_IN_RATE_PER_HOUR for both processes
CSRF_INPUT = re.compile(r'name="_csrf_token"\s+value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebProcess:
    """One ``crm run`` on a free port; stopped (and its output kept for the failure message) at the end."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.email = env["CRM_DEMO_ADMIN_EMAIL"]
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crm.cli", "run", "--port", str(self.port), "--no-worker", "--no-seed"],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"crm run exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"crm run did not answer on {self.url} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def two_web_processes(database: Database, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[WebProcess]]:
    """Two web processes on one database; ``request.param`` is "redis" (shared limits) or "memory" (none)."""
    redis_url = REDIS_TEST_URL if request.param == "redis" else ""
    if redis_url:
        redis_or_skip().close()
    elif database.kind != "sqlite":
        pytest.skip("the in-process control runs on one database only")
    email = f"limit-{secrets.token_hex(4)}@example.org"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_ENV="production",  # no demo data, no start-up sign-in link: the two can start side by side
        CRM_DATABASE_URL=database.url,
        CRM_SECRET_KEY="deploy-test-secret-0123456789-abcdefghijklmnop",
        CRM_DEMO_ADMIN_EMAIL=email,
        CRM_SIGN_IN_RATE_PER_HOUR=str(LIMIT),
        CRM_RUN_WORKER_IN_PROCESS="false",
        CRM_REDIS_URL=redis_url,
        CRM_REDIS_NAMESPACE=f"crm-test-{secrets.token_hex(6)}",  # this test's keys only
        PYTHONUNBUFFERED="1",
    )
    database.isolation.reset()
    with Session(database.engine) as session:
        ensure_user(session, email)  # an active user, so each allowed sign-in request queues one email
        session.commit()
    processes: list[WebProcess] = []
    try:
        processes = [WebProcess(env, tmp_path / f"web-{name}.log") for name in ("a", "b")]
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop()
        if redis_url:
            client = redis_or_skip()
            forget_namespace(client, env["CRM_REDIS_NAMESPACE"])
            client.close()
        database.isolation.reset()


def _sign_in_alternately(processes: list[WebProcess], email: str, times: int) -> list[int]:
    """POST /sign-in for ``email`` ``times`` times, alternating between the processes, like a proxy would."""
    statuses = []
    with httpx.Client(timeout=15) as client:  # one browser: its CSRF cookie is signed with the shared secret
        page = client.get(f"{processes[0].url}/sign-in")
        token = CSRF_INPUT.search(page.text)
        assert token, page.text[:500]
        for i in range(times):
            target = processes[i % len(processes)]
            answer = client.post(f"{target.url}/sign-in", data={"email": email, "_csrf_token": token.group(1)})
            statuses.append(answer.status_code)
    return statuses


def _sign_in_emails(database: Database, email: str) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(m.OutboxMessage)
                .where(m.OutboxMessage.recipient == email, m.OutboxMessage.kind == "sign_in")
            )
            or 0
        )


@pytest.mark.timeout(400)  # two interpreters start on a loaded 2-core machine
@pytest.mark.parametrize("two_web_processes", ["redis"], indirect=True)
def test_two_web_processes_share_one_sign_in_limit_through_redis(two_web_processes, database):
    email = two_web_processes[0].email
    statuses = _sign_in_alternately(two_web_processes, email, 2 * LIMIT)
    # One limit across both ports: LIMIT answers, then "too many" from either process.
    assert statuses == [200] * LIMIT + [429] * LIMIT, statuses
    assert _sign_in_emails(database, email) == LIMIT


@pytest.mark.timeout(400)
@pytest.mark.parametrize("two_web_processes", ["memory"], indirect=True)
def test_without_redis_each_process_limits_on_its_own(two_web_processes, database):
    email = two_web_processes[0].email
    statuses = _sign_in_alternately(two_web_processes, email, 2 * LIMIT + 2)
    # Today's behaviour, recorded in docs/architecture.md: N processes allow N x the limit.
    assert statuses == [200] * (2 * LIMIT) + [429, 429], statuses
    assert _sign_in_emails(database, email) == 2 * LIMIT
