"""Settings read once from ``CRM_*`` environment variables.

Settings are passed *into* ``create_app`` rather than read from the environment deep inside the code, so tests
and the CLI can build apps with their own values without mutating ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "dev-insecure-secret-change-me"
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'crm.sqlite3'}"


# One log format for every process: the CLI, the app (Litestar's logging config) and uvicorn (``log_config=None``).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SettingsError(ValueError):
    """Raised when the configuration cannot run; the CLI prints it as one line."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _check_redis_url(url: str) -> None:
    """A Redis URL the client can use; the message never echoes it (it may hold a password)."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError("CRM_REDIS_URL must start with redis://, rediss:// or unix://")
    if parts.scheme == "unix":
        return
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise SettingsError("CRM_REDIS_URL has a port that is not a number") from None
    if not parts.hostname or not re.fullmatch(r"/?(\d+)?", parts.path):
        raise SettingsError("CRM_REDIS_URL must look like redis://host:6379/0 (a host, then a database number)")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    database_url: str = DEFAULT_SQLITE_URL
    secret_keys: tuple[str, ...] = (DEFAULT_SECRET,)
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/London"
    mail_transport: str = "local"
    mail_from: str = "Roundtable CRM <hello@roundtable.example.org>"
    mail_reply_to: str = ""
    mail_postal_address: str = "Roundtable CRM, 1 Example Street, London, EC1A 1AA"
    unsubscribe_mailto: str = "unsubscribe@roundtable.example.org"
    sendgrid_api_key: str = ""
    sendgrid_api_url: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = 10.0
    sendgrid_concurrency: int = 4
    sendgrid_webhook_public_key: str = ""
    inbound_secret: str = ""  # the secret part of the Inbound Parse URL for calendar answers ("" = endpoint off)
    mail_rate_per_second: float = 50.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_connections: int = 4
    outbox_batch_size: int = 100
    outbox_max_attempts: int = 8
    dispatch_interval_seconds: float = 5.0
    run_worker_in_process: bool = True
    sign_in_rate_per_hour: int = 10
    session_days: int = 14
    demo_admin_email: str = "fellow@roundtable.example.org"
    partnership_quiet_days: int = 30
    partnership_dormant_days: int = 90
    retention_contact_years: int = 3
    # Days the full text of sent mail and the digest ledger's per-item detail are kept (crm.mailing.prune): long
    # enough for a subject-access request to show what someone received over a year.
    mail_detail_days: int = 400
    log_level: str = "INFO"
    # Shared state for several web processes (issue 21.3): "" keeps rate limits and Litestar's stores in process;
    # redis://host:6379/0 (or rediss://, unix://) shares them. The namespace prefixes every key, so several
    # deployments (or test runs) can share one Redis without seeing each other's limits.
    redis_url: str = ""
    redis_namespace: str = "crm"

    @property
    def secret_key(self) -> str:
        """The key new signatures use; older keys in ``secret_keys`` still verify (rotation)."""
        return self.secret_keys[0]

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def validate(self) -> Settings:
        """Refuse configurations that would be unsafe or cannot work, with a message a person can act on."""
        if self.env not in {"development", "test", "production"}:
            raise SettingsError(f"CRM_ENV must be development, test or production, not {self.env!r}")
        if "://" not in self.database_url or not self.database_url.split("://", 1)[0]:
            raise SettingsError(f"CRM_DATABASE_URL is not a database URL: {self.database_url!r}")
        scheme = self.database_url.split("://", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql"}:
            raise SettingsError(f"CRM_DATABASE_URL must be sqlite:/// or postgresql://, not {scheme}://")
        if self.mail_transport not in {"local", "smtp", "sendgrid"}:
            raise SettingsError(f"CRM_MAIL_TRANSPORT must be local, smtp or sendgrid, not {self.mail_transport!r}")
        if not 30 <= self.mail_detail_days <= 3650:
            raise SettingsError(f"CRM_MAIL_DETAIL_DAYS must be between 30 and 3650 days, not {self.mail_detail_days}")
        if self.smtp_connections < 1:
            raise SettingsError(f"CRM_SMTP_CONNECTIONS must be at least 1, not {self.smtp_connections}")
        if self.redis_url:
            _check_redis_url(self.redis_url)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.redis_namespace):
            raise SettingsError(
                f"CRM_REDIS_NAMESPACE must be 1-64 letters, digits, '_', '.' or '-', not {self.redis_namespace!r}"
            )
        if self.is_production:
            if DEFAULT_SECRET in self.secret_keys or any(len(k) < 32 for k in self.secret_keys):
                raise SettingsError("CRM_SECRET_KEY must be set to a random value of 32+ characters in production")
            if not os.environ.get("CRM_DATABASE_URL") and self.database_url == DEFAULT_SQLITE_URL:
                raise SettingsError("CRM_DATABASE_URL must be set in production")
            if self.mail_transport == "sendgrid" and not self.sendgrid_api_key:
                raise SettingsError("CRM_SENDGRID_API_KEY must be set when CRM_MAIL_TRANSPORT=sendgrid")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = f"CRM_{field.name.upper()}"
            if field.name == "secret_keys":
                raw = env.get("CRM_SECRET_KEYS") or env.get("CRM_SECRET_KEY")
                if raw:
                    values["secret_keys"] = tuple(k.strip() for k in raw.split(",") if k.strip())
                continue
            if key not in env:
                continue
            raw = env[key]
            default = field.default
            try:
                if isinstance(default, bool):
                    values[field.name] = _bool(raw)
                elif isinstance(default, int):
                    values[field.name] = int(raw)
                elif isinstance(default, float):
                    values[field.name] = float(raw)
                else:
                    values[field.name] = raw
            except ValueError as exc:
                raise SettingsError(f"{key} has an invalid value {raw!r}: {exc}") from exc
        if "database_url" in values and values["database_url"].startswith("postgres://"):
            values["database_url"] = "postgresql://" + values["database_url"][len("postgres://") :]
        if values.get("database_url", "").startswith("postgresql://"):
            values["database_url"] = "postgresql+psycopg://" + values["database_url"][len("postgresql://") :]
        return cls(**values)
