"""Web helpers the events pages, admin pages and API share: the clock and the mailer built from the app state."""

from __future__ import annotations

import datetime as dt

from litestar.datastructures import State

from crm.events.mail import Mailer


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def mailer(state: State) -> Mailer:
    return Mailer(state.renderer, state.signer, state.settings)
