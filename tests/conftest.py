"""Shared fixtures: every test that uses ``db``/``client`` runs on SQLite and on PostgreSQL.

PostgreSQL is used when ``CRM_TEST_POSTGRES_URL`` is set or 127.0.0.1:5432 answers; each test session creates
its own database (``crm_test_<random>``) so parallel runs never collide. With ``CRM_REQUIRE_POSTGRES=1`` (set by
``.ci/run``) a missing server is a failure, not a skip. Schemas are built by running the Alembic migrations.
Before each test that uses ``clean`` (``db``, ``client``) the database holds the reference data only;
``tests/isolation.py`` empties just what earlier tests wrote.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import os
import re
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from crm import httpcache
from crm import models as m
from crm.accounts.services import create_session, ensure_user
from crm.app import create_app
from crm.db import create_db_engine
from crm.directory.reference import ensure_reference_data
from crm.migrate import upgrade
from crm.settings import Settings
from crm.web.auth import SESSION_COOKIE
from tests.isolation import Isolation

BASE_URL = "http://testserver.local"
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("CRM_TEST_POSTGRES_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    return None


@dataclasses.dataclass
class Database:
    kind: str
    url: str
    engine: Engine
    settings: Settings
    isolation: Isolation


_FROZEN_NOW = httpcache.window()  # the 60 s cache window as the session started


@pytest.fixture(autouse=True)
def _cache_window_holds_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP cache's 60 s window (crm.httpcache.window) does not turn during a test: a test that counts
    statements must not see the filter menus reloaded because a minute boundary fell between two requests (a
    flake seen under load). A test about the window turning passes ``now`` explicitly, which still counts."""
    monkeypatch.setattr(
        httpcache, "window", lambda now=None: _FROZEN_NOW if now is None else int(now // httpcache.WINDOW)
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        admin_engine = None
        name = ""
    else:
        admin_url = _postgres_admin_url()
        if admin_url is None:
            if os.environ.get("CRM_REQUIRE_POSTGRES") == "1":
                pytest.fail(
                    "CRM_REQUIRE_POSTGRES=1 but no PostgreSQL answers on 127.0.0.1:5432 / CRM_TEST_POSTGRES_URL"
                )
            pytest.skip("PostgreSQL not available (set CRM_TEST_POSTGRES_URL or start it on 127.0.0.1:5432)")
        name = f"crm_test_{secrets.token_hex(4)}"
        admin_engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_engine.url.set(database=name).render_as_string(hide_password=False)
    settings = Settings(
        env="test",
        database_url=url,
        secret_keys=(TEST_SECRET,),
        base_url=BASE_URL,
        run_worker_in_process=False,
    )
    engine = create_db_engine(settings)
    upgrade(engine)
    isolation = Isolation(engine, seed=ensure_reference_data)
    try:
        yield Database(request.param, url, engine, settings, isolation)
    finally:
        isolation.close()
        engine.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()


@pytest.fixture(scope="session")
def app(database: Database) -> Iterator[Litestar]:
    application = create_app(database.settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def settings(database: Database) -> Settings:
    return database.settings


@pytest.fixture
def clean(app: Litestar, database: Database) -> None:
    """The database holds the reference data and nothing else (only what earlier tests wrote is emptied)."""
    database.isolation.reset()
    app.state.rate_limiter.reset()


@pytest.fixture
def db(app: Litestar, clean: None) -> Iterator[Session]:
    """A session on the app's database; tests commit what the app should see."""
    session = app.state.session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def client(app: Litestar, clean: None) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def csrf_token(client: TestClient[Any]) -> str:
    token = client.cookies.get("crm_csrf")
    if not token:
        client.get("/sign-in")
        token = client.cookies.get("crm_csrf")
    assert token, "the CSRF cookie was not set"
    return token


def next_link(text: str) -> str | None:
    """The address of a paged list's "Next" link (``rel="next"``), unescaped; None on the last page."""
    found = re.search(r'<a rel="next" href="([^"]+)"', text)
    return html.unescape(found.group(1)) if found else None


def post_form(client: TestClient[Any], url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form the way a browser would: with the CSRF token from the cookie."""
    payload = dict(data or {})
    payload.setdefault("_csrf_token", csrf_token(client))
    return client.post(url, data=payload, **kwargs)


def sign_in_as(client: TestClient[Any], db: Session, settings: Settings, email: str, role: m.Role) -> m.User:
    user = ensure_user(db, email, role, name=email.split("@")[0].title())
    cookie = create_session(db, user, settings)
    db.commit()
    client.cookies.set(SESSION_COOKIE, cookie)
    return user


@pytest.fixture
def admin_client(client: TestClient[Any], db: Session, settings: Settings) -> TestClient[Any]:
    sign_in_as(client, db, settings, "fellow@example.org", m.Role.ADMIN)
    return client


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)


@pytest.fixture
def count_queries(app: Litestar) -> Any:
    """``with count_queries() as q: ...; assert q.count == 3`` counts SQL statements on the app's engine."""

    @contextlib.contextmanager
    def _count(engine: Engine | None = None) -> Iterator[QueryCounter]:
        target = engine or app.state.engine
        counter = QueryCounter()
        event.listen(target, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(target, "before_cursor_execute", counter)

    return _count


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("postgres") and "[sqlite]" in item.nodeid:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only behaviour"))


@pytest.fixture(autouse=True)
def _offloaded_work_counted(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that counts statements (``count_queries``) counts the work ``crm.web.offload`` sends to a worker
    process too: it runs here, on the app's engine, where the counter listens. In a worker the counter saw none of
    it, and an N+1 in the dashboard, a report, an export or an import check passed every count. (So a test that
    counts must not crash a worker on purpose: here that would end pytest.)"""
    if "count_queries" not in request.fixturenames:
        yield
        return
    from crm.web import offload

    database: Database = request.getfixturevalue("database")
    app: Litestar = request.getfixturevalue("app")
    with offload.in_this_process({database.settings.database_url: app.state.session_factory}):
        yield
