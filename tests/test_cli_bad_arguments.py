"""Bad arguments to ``crm`` commands end with one clear line and a non-zero exit, on SQLite and PostgreSQL: never a
traceback, never something stored that the database cannot hold or that is empty, never a silently different list."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from crm import models as m
from crm.cli import main


def _crm(database: Any, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"CRM_DATABASE_URL": database.url, "CRM_ENV": "test"})


def _clear(result: Any) -> str:
    """The command's output, after checking it failed with a message rather than an exception."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.output


def _keys(db: Any) -> int:
    return db.scalar(select(func.count()).select_from(m.ApiKey))


def test_api_key_names_must_be_given_and_fit(database, db):
    assert "is empty" in _clear(_crm(database, "api-key", "create", "   "))
    assert "at most 200 characters (it has 300)" in _clear(_crm(database, "api-key", "create", "k" * 300))
    assert "single line" in _clear(_crm(database, "api-key", "create", "zapier\nsecond line"))
    db.expire_all()
    assert _keys(db) == 0
    listed = _crm(database, "api-key", "list")
    assert listed.exit_code == 0 and "No API keys yet" in listed.output
    made = _crm(database, "api-key", "create", "  zapier  ")
    assert made.exit_code == 0 and "(zapier, admin)" in made.output


def test_create_admin_name_must_fit(database, db):
    out = _clear(_crm(database, "create-admin", "boss@example.org", "--name", "n" * 201))
    assert "--name must be at most 200 characters" in out
    db.expire_all()
    assert db.scalar(select(m.User).where(m.User.email == "boss@example.org")) is None


def test_imports_list_refuses_a_count_below_one_and_says_when_there_are_none(database, db):
    assert "--limit" in _clear(_crm(database, "imports", "list", "--limit", "-5"))
    assert "--limit" in _clear(_crm(database, "imports", "list", "--limit", "99999999999999999999"))
    empty = _crm(database, "imports", "list")
    assert empty.exit_code == 0 and "No imports yet" in empty.output


def test_import_show_refuses_a_negative_count(database, db, tmp_path):
    csv = tmp_path / "orgs.csv"
    csv.write_text("organisation_name,kind\nAster Voices,vcse\n", encoding="utf-8")
    assert "--show" in _clear(_crm(database, "import", "organisations", str(csv), "--dry-run", "--show", "-1"))


def test_db_upgrade_to_an_unknown_revision_is_one_line(database, db):
    out = _clear(_crm(database, "db", "upgrade", "--revision", "bogus"))
    assert "crm: cannot upgrade to 'bogus'" in out and "Traceback" not in out


def test_run_refuses_a_port_or_worker_count_that_cannot_be(database, db, monkeypatch):
    import uvicorn

    def served(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server started")  # instead of refusing the argument (and the test would hang)

    monkeypatch.setattr(uvicorn.Server, "run", served)
    assert "--port" in _clear(_crm(database, "run", "--port", "99999", "--no-seed", "--no-worker"))
    assert "--port" in _clear(_crm(database, "run", "--port", "0", "--no-seed", "--no-worker"))
    assert "--workers" in _clear(_crm(database, "run", "--workers", "0", "--no-seed", "--no-worker"))


def test_revoking_a_key_twice_keeps_when_it_was_revoked(database, db):
    made = _crm(database, "api-key", "create", "zapier")
    key_id = int(made.output.split()[2])
    assert _crm(database, "api-key", "revoke", str(key_id)).exit_code == 0
    db.expire_all()
    first = db.get(m.ApiKey, key_id).revoked_at
    again = _crm(database, "api-key", "revoke", str(key_id))
    assert again.exit_code == 0 and "already revoked" in again.output
    db.expire_all()
    assert db.get(m.ApiKey, key_id).revoked_at == first
