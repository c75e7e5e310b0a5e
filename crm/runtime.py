"""Everything a job or a command needs, built once per process from the settings and the manifest's extensions.

The worker and the CLI both use it, so it lives in ``crm`` (``jobs/`` only runs the scheduler). It takes the
extensions as an argument because it sits below the manifest (``crm.domains``) that builds them.

With ``CRM_REDIS_URL`` set, building the engine also starts the process's HTTP cache stamps bus
(``crm.web.stamps_bus``), so a job's or a command's writes reach the web processes' ETags at once instead of when
the 60 s window turns; a process that never touches the database has nothing to tell them.
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
from crm.web import stamps_bus


@dataclasses.dataclass
class Runtime:
    settings: Settings
    extensions: Extensions = NO_EXTENSIONS
    bus: stamps_bus.StampsBus | None = dataclasses.field(default=None, init=False, repr=False)

    @cached_property
    def engine(self) -> Engine:
        engine = create_db_engine(self.settings)
        if self.bus is None:
            self.bus = stamps_bus.acquire(self.settings)  # None without Redis
        return engine

    def close(self) -> None:
        """Stop sharing stamps and close the database connections (a process that exits needs neither)."""
        bus, self.bus = self.bus, None
        stamps_bus.release(bus)
        if "engine" in self.__dict__:
            self.engine.dispose()

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
