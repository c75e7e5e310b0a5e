"""The docker-compose file, the Dockerfile and the ``crm`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from crm.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_has_every_service():
    services = _compose()["services"]
    assert {"db", "migrate", "web", "worker", "mail"} <= set(services)


def test_compose_app_services_share_one_image_and_run_real_commands():
    services = _compose()["services"]
    app_services = ["migrate", "web", "worker"]
    images = {services[name]["image"] for name in app_services}
    assert len(images) == 1
    for name in app_services:
        command = services[name]["command"]
        assert command[0] == "crm"
        # Every command the compose file runs exists in the CLI: `--help` on it succeeds.
        words = [w for w in command[1:] if not w.startswith("-")][:2]
        path = []
        group = main
        for word in words:
            if not hasattr(group, "commands") or word not in group.commands:
                break
            path.append(word)
            group = group.commands[word]
        assert path, f"{name}: {command} is not a crm command"
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, result.output
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (ROOT / "Dockerfile").read_text().count("FROM ") == 1


def test_crm_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ["run", "worker", "db", "seed-demo", "create-admin", "api-key", "outbox"]:
        assert command in result.output


def _crm(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=60,
    )


def test_bad_database_url_is_one_clear_line(tmp_path):
    result = _crm(["db", "upgrade"], {"CRM_DATABASE_URL": "mysql://nope"})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("crm: configuration error: CRM_DATABASE_URL")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    unreachable = _crm(["db", "upgrade"], {"CRM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert unreachable.stderr.strip().splitlines()[-1].startswith("crm: cannot use the database")


def test_production_with_default_secret_refuses_to_start():
    result = _crm(
        ["run"], {"CRM_ENV": "production", "CRM_DATABASE_URL": "postgresql://x@127.0.0.1/x", "CRM_SECRET_KEY": ""}
    )
    assert result.returncode == 1 and "CRM_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_create_admin_and_api_key_on_a_fresh_database(tmp_path):
    env = {"CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    assert _crm(["db", "upgrade"], env).returncode == 0
    admin = _crm(["create-admin", "Boss@Example.org"], env)
    assert (
        admin.returncode == 0
        and "boss@example.org is an admin" in admin.stdout
        and "/sign-in/verify?token=" in admin.stdout
    )
    bad = _crm(["create-admin", "not-an-email"], env)
    assert bad.returncode == 1 and "valid email" in bad.stderr
    key = _crm(["api-key", "create", "zapier"], env)
    assert key.returncode == 0 and "crm_" in key.stdout
    listed = _crm(["api-key", "list"], env)
    plaintext = key.stdout.strip().splitlines()[-1]
    assert "zapier" in listed.stdout and plaintext not in listed.stdout
