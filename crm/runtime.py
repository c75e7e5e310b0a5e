"""Everything a job or a command needs, built once per process from the settings and the manifest's extensions.

The worker and the CLI both use it, so it lives in ``crm`` (``jobs/`` only runs the scheduler). It takes the
extensions as an argument because it sits below the manifest (``crm.domains``) that builds them.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crm.db import create_db_engine, create_session_factory
from crm.extensions import NO_EXTENSIONS, Extensions
from crm.mailing.render import EmailRenderer
from crm.mailing.transports import Transport, build_transport
from crm.settings import Settings
from crm.tokens import Signer


@dataclasses.dataclass
class Runtime:
    settings: Settings
    extensions: Extensions = NO_EXTENSIONS

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
