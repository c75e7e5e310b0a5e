"""Everything a job needs, built once per worker process from the settings."""

from __future__ import annotations

import dataclasses
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crm.db import create_db_engine, create_session_factory
from crm.mailing.render import EmailRenderer
from crm.mailing.transports import Transport, build_transport
from crm.settings import Settings
from crm.tokens import Signer


@dataclasses.dataclass
class WorkerContext:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(self.settings)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return create_session_factory(self.engine)

    @cached_property
    def renderer(self) -> EmailRenderer:
        return EmailRenderer(self.settings)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.settings)

    @cached_property
    def transport(self) -> Transport:
        return build_transport(self.settings)
