"""Rendering campaign emails at dispatch: the dispatcher's deferred renderer for kind ``campaign``.

Campaign outbox rows store no bodies (``crm.campaigns.queueing``): 100,000 copies of the same newsletter would be
hundreds of megabytes. When the dispatcher claims them it calls ``render_claimed``: one query loads the claimed
rows' campaigns, each campaign's templates and Markdown are rendered once per process (``CampaignShell``, cached
under the campaign's id and ``updated_at``), and each row is a cheap fill with its own footer links — the
unsubscribe link of the row's stream (``mailing``: the mailing a subscriber receives it under, or
``CONTACT_STREAM`` for a directory contact), "unsubscribe from everything", preferences — and the RFC 8058 and
List-Id headers. Consent, suppression and withdrawals were re-checked by the dispatcher before this is called.

Each row also returns ``SendOptions``: SendGrid's own open and click tracking when the campaign asked for them,
and the campaign's sender name as the From display name (neither is a header or part of the stored copy).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import news
from crm.campaigns.render import CampaignShell
from crm.mailing import compliance
from crm.mailing.render import EmailRenderer, RenderedEmail, row_context
from crm.mailing.transports.base import SendOptions
from crm.settings import Settings
from crm.tokens import Signer

log = logging.getLogger("crm.campaigns.delivery")
SHELL_CACHE_LIMIT = 64  # campaigns kept per process (cleared when full)

Rendered = tuple[RenderedEmail, dict[str, str], SendOptions]


class _Process:
    """What one process keeps for these settings: the email renderer, the signer, one shell per campaign."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.renderer = EmailRenderer(settings)
        self.signer = Signer(settings)
        self.host = urlsplit(settings.base_url).hostname or "localhost"
        self.base = settings.base_url.rstrip("/")
        self.shells: dict[tuple[int, Any], tuple[CampaignShell, str, SendOptions]] = {}
        self.lock = threading.Lock()

    def shell(self, campaign: m.Campaign) -> tuple[CampaignShell, str, SendOptions]:
        """The campaign's shell, its "view in your browser" URL and its send options, built once per version."""
        key = (campaign.id, campaign.updated_at)
        found = self.shells.get(key)
        if found is None:
            tracking = frozenset(
                name for name, on in (("opens", campaign.track_opens), ("clicks", campaign.track_clicks)) if on
            )
            options = SendOptions(tracking=tracking, from_name=" ".join((campaign.sender_name or "").split()))
            view_url = news.news_url(self.settings, campaign) if campaign.published_at is not None else ""
            found = (CampaignShell(self.renderer, campaign), view_url, options)
            with self.lock:
                if len(self.shells) >= SHELL_CACHE_LIMIT:
                    self.shells.clear()
                self.shells[key] = found
        return found

    def render(self, campaign: m.Campaign, row: Any, context: dict[str, Any]) -> Rendered:
        shell, view_url, options = self.shell(campaign)
        email, stream = row.recipient, row.mailing or compliance.CONTACT_STREAM
        s, signer = self.settings, self.signer
        token = compliance.unsubscribe_token(signer, email, stream)  # signed once: footer link and header
        headers = compliance.list_unsubscribe_for(s, token)
        values = {
            "name": row.recipient_name or "",
            "unsubscribe_url": f"{self.base}/u/{token}",
            "unsubscribe_all_url": compliance.unsubscribe_url(signer, s, email, None),
            "preferences_url": compliance.preferences_url(signer, s, email),
            "why_text": str(context.get("why") or ""),
            "view_url": view_url,
        }
        headers["List-Id"] = f"<{stream.replace('_', '-')}.{self.host}>"
        return shell.fill(values), headers, options


_PROCESSES: dict[Settings, _Process] = {}


def _process(settings: Settings) -> _Process:
    found = _PROCESSES.get(settings)
    if found is None:
        found = _PROCESSES[settings] = _Process(settings)
    return found


def render_claimed(
    session: Session, rows: list[Any], settings: Settings, now: dt.datetime | None = None
) -> dict[int, Rendered | str]:
    """The dispatcher's hook for ``campaign`` rows: each claimed row rendered, or why it cannot go out.

    Reads the rows' ``id``, ``recipient``, ``recipient_name``, ``context`` and ``mailing``; one SELECT for the
    campaigns of the whole claim. A row whose campaign is gone, or whose rendering raises, fails alone."""
    process = _process(settings)
    contexts = {row.id: row_context(row) for row in rows}
    wanted = {c.get("c") for c in contexts.values() if isinstance(c.get("c"), int)}
    campaigns = (
        {c.id: c for c in session.scalars(select(m.Campaign).where(m.Campaign.id.in_(wanted)))} if wanted else {}
    )
    out: dict[int, Rendered | str] = {}
    for row in rows:
        context = contexts[row.id]
        campaign = campaigns.get(context.get("c"))  # type: ignore[arg-type]
        if campaign is None:
            out[row.id] = "the campaign of this email no longer exists"
            continue
        try:
            out[row.id] = process.render(campaign, row, context)
        except Exception as exc:  # one recipient's bad data or a template error must not stop the others
            log.exception("campaign email for outbox row %s could not be rendered", row.id)
            out[row.id] = f"could not render the campaign email: {exc!r}"[:2000]
    return out
