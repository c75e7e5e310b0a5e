"""Placeholder: the involvement demo data (issue 18)."""

from sqlalchemy.orm import Session

from crm.settings import Settings


def seed(session: Session, settings: Settings) -> None:
    """Nothing yet."""
