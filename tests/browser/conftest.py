"""The browser harness: the real app served by uvicorn, driven by Playwright in Debian's headless Chromium.

* Every browser test lives in this folder and uses these fixtures. One uvicorn server (in a thread, on a free
  port) per database for the whole session, against a fresh migrated SQLite, then PostgreSQL, database seeded
  through the services (``seed.py``) and the local mail transport. The journeys share that data: nothing is
  cleaned between them (they write through the live server, so ``tests/isolation.py`` does not apply).
* One Chromium per session, a new browser context (cookies, storage) per test.
* On failure the page's screenshot and HTML go to ``tests/artifacts/`` (gitignored).
* Chromium is never downloaded: ``/usr/bin/chromium`` (or ``CRM_CHROMIUM``) is used. Without it the browser
  tests skip with one line, unless ``CRM_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which makes it a failure.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from crm import models as m
from crm.accounts.services import create_session
from crm.app import create_app
from crm.db import create_db_engine, unit_of_work
from crm.domains import EXTENSIONS
from crm.mailing.dispatch import DispatchStats, drain
from crm.mailing.transports.local import LocalTransport
from crm.migrate import upgrade
from crm.settings import PROJECT_ROOT, Settings
from crm.web.auth import SESSION_COOKIE
from tests.browser import seed
from tests.conftest import TEST_SECRET, _postgres_admin_url

CHROMIUM = os.environ.get("CRM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("CRM_REQUIRE_BROWSER") == "1"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 10_000


def _missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (.venv/bin/pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CRM_CHROMIUM)"
    return None


@dataclasses.dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings
    factory: sessionmaker[Session]
    users: dict[m.Role, str]  # role -> email of a seeded user with that role
    data: seed.Seeded

    def session(self) -> Session:
        return self.factory()

    def drain_mail(self) -> DispatchStats:
        """What the worker does every few seconds: send everything due through the local transport."""
        return drain(self.factory, LocalTransport(), self.settings, renderers=EXTENSIONS.deferred_renderers)

    def last_email(self, to: str, kind: str | None = None) -> m.OutboxMessage:
        with self.factory() as s:
            query = select(m.OutboxMessage).where(m.OutboxMessage.recipient == to.lower())
            if kind:
                query = query.where(m.OutboxMessage.kind == kind)
            message = s.scalar(query.order_by(m.OutboxMessage.id.desc()).limit(1))
        assert message is not None, f"no email{f' of kind {kind}' if kind else ''} to {to} in the outbox"
        return message

    def link_in_email(self, to: str, kind: str | None = None, path: str = "") -> str:
        """The first link in the email's text part that points at this server (and contains ``path``)."""
        message = self.last_email(to, kind)
        for link in re.findall(r"https?://\S+", message.text_body or ""):
            link = link.rstrip(".,)>")
            if link.startswith(self.url) and path in link:
                return link
        raise AssertionError(f"no link to {self.url}{path} in the email {message.subject!r}:\n{message.text_body}")

    def session_cookie(self, role: m.Role) -> dict[str, Any]:
        """A signed-in cookie for the seeded user with ``role`` (skips the email round trip)."""
        with unit_of_work(self.factory) as s:
            user = s.scalar(select(m.User).where(m.User.email == self.users[role]))
            assert user is not None
            value = create_session(s, user, self.settings)
        return {"name": SESSION_COOKIE, "value": value, "url": self.url, "httpOnly": True, "sameSite": "Lax"}


MISSING = _missing_reason()
if MISSING and "playwright" in MISSING and not REQUIRE_BROWSER:
    collect_ignore_glob = ["test_*.py"]  # the modules import playwright; pytest_terminal_summary says why


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MISSING and "playwright" in MISSING and not REQUIRE_BROWSER:
        terminalreporter.write_line(f"browser tests skipped: {MISSING}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Raised here rather than in a fixture so pytest folds every skipped browser test into one summary line."""
    if MISSING is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"CRM_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)
    pytest.skip(f"browser tests skipped: {MISSING}")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app on a free port, a fresh database (SQLite, then PostgreSQL), demo data and one user per role."""
    admin_engine = None
    db_name = ""
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'crm.sqlite3'}"
    else:
        admin_url = _postgres_admin_url()
        if admin_url is None:
            if os.environ.get("CRM_REQUIRE_POSTGRES") == "1":
                pytest.fail("CRM_REQUIRE_POSTGRES=1 but no PostgreSQL answers", pytrace=False)
            pytest.skip("PostgreSQL not available for the browser journeys")
        db_name = f"crm_browser_{secrets.token_hex(4)}"
        admin_engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        database_url = admin_engine.url.set(database=db_name).render_as_string(hide_password=False)
    # Bind the socket first: the base URL (used in emailed links) must carry the port, and handing the bound
    # socket to uvicorn leaves no window for another process to take the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(
        env="test",
        database_url=database_url,
        secret_keys=(TEST_SECRET,),
        base_url=f"http://127.0.0.1:{port}",
        run_worker_in_process=False,
        mail_transport="local",
        sign_in_rate_per_hour=1000,
    )
    engine = create_db_engine(settings)
    upgrade(engine)
    engine.dispose()
    app = create_app(settings)
    factory = app.state.session_factory
    with unit_of_work(factory) as s:
        users, data = seed.seed(s, settings)
    url, stop = _serve(app, sock)
    try:
        yield LiveServer(url=url, app=app, settings=settings, factory=factory, users=users, data=data)
    finally:
        stop()
        app.state.engine.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin_engine.dispose()


def _serve(app: Any, sock: socket.socket) -> tuple[str, Callable[[], None]]:
    import uvicorn

    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-browser", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the browser-test server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


# One Playwright and one Chromium per process, shared by both databases' sessions: Playwright's sync API cannot
# run two instances in one thread.
_SHARED: dict[str, Any] = {}


def _shared_browser() -> Any:
    if "browser" not in _SHARED:
        from playwright.sync_api import sync_playwright

        os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        _SHARED["playwright"] = sync_playwright().start()
        _SHARED["browser"] = _SHARED["playwright"].chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
    return _SHARED["browser"]


def _close_shared_browser() -> None:
    browser = _SHARED.pop("browser", None)
    playwright = _SHARED.pop("playwright", None)
    with contextlib.suppress(Exception):
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()


atexit.register(_close_shared_browser)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _close_shared_browser()


@pytest.fixture(scope="session")
def browser(live: LiveServer) -> Any:
    return _shared_browser()


@pytest.fixture
def context(browser: Any, live: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    ctx.set_default_timeout(TIMEOUT_MS)
    live.app.state.rate_limiter.reset()
    try:
        yield ctx
    finally:
        ctx.close()


class ConsoleLog:
    """Console errors (a CSP violation shows up here), uncaught exceptions and failed sub-resources of a page.

    A document answering 4xx is often the point of a test (an expired link), so only sub-resources (CSS,
    scripts, images, htmx fragments) count as failures; Chromium's automatic /favicon.ico probe is ignored.
    """

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def _response(self, response: Any) -> None:
        request = response.request
        if response.status >= 400 and request.resource_type != "document" and "/favicon.ico" not in request.url:
            self.errors.append(f"{response.status} for {request.resource_type} {request.url}")


@pytest.fixture
def page(context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = context.new_page()
    page.console = ConsoleLog(page)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _save_artifacts(page, request.node.nodeid)


def _save_artifacts(page: Any, nodeid: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]
    try:
        page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
        (ARTIFACTS / f"{stem}.html").write_text(page.content(), encoding="utf-8")
        print(f"\nbrowser artifacts: {ARTIFACTS / stem}.png / .html (page was {page.url})")
    except Exception as exc:  # the page may be gone; the test's own failure is what matters
        print(f"\ncould not save browser artifacts: {exc!r}")


@pytest.fixture
def signed_in(context: Any, live: LiveServer) -> Callable[[m.Role], None]:
    """``signed_in(m.Role.EDITOR)`` puts a session cookie for the seeded user of that role into this context."""

    def _sign_in(role: m.Role = m.Role.ADMIN) -> None:
        context.add_cookies([live.session_cookie(role)])

    return _sign_in


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def artifacts_dir() -> Path:
    return ARTIFACTS
