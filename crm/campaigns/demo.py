"""Demo campaigns (invented): one announcement sent to the funding-digest subscribers and the VCSE contacts and
published as news (its emails are in the outbox, for the worker to send), and a draft newsletter. Runs after the
mailing and directory demos, through the same services the fellow's pages use."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.campaigns import campaigns, sending
from crm.campaigns.audience_segment import Segment
from crm.settings import Settings

ANNOUNCEMENT = campaigns.CampaignData(
    subject="The mental health research partnerships call is open",
    preheader="Join our briefing on Thursday to find a partner before the deadline.",
    body=(
        "A national funder has opened a call for **research partnerships between charities and universities** "
        "on community mental health.\n\n"
        "## What it funds\n\n"
        "- Projects of up to three years, co-produced with people with lived experience\n"
        "- Time for charity staff to take part, paid at a fair rate\n"
        "- A small grant to help partners plan the application\n\n"
        "## Find a partner\n\n"
        "We are holding an online briefing on Thursday at 2pm. Bring an idea, or come to listen. "
        "You can also [browse the partner directory](https://roundtable.example.org/organisations)."
    ),
    cta_label="See the funding call",
    cta_url="https://roundtable.example.org/funding-calls",
    sender_name="Roundtable fellow",
    publish_as_news=True,
)
NEWSLETTER = campaigns.CampaignData(
    subject="Roundtable news for the spring",
    preheader="Internships, a new working group and what partners told us.",
    body=(
        "Hello from the Roundtable.\n\n"
        "## Internships\n\n"
        "Five charities are offering placements to early career researchers this spring.\n\n"
        "## What you told us\n\n"
        "Thank you to everyone who answered our survey about keeping partnerships going."
    ),
    sender_name="Roundtable fellow",
)


def seed(session: Session, settings: Settings) -> None:
    if session.scalar(select(m.Campaign.id).limit(1)) is not None:
        return
    now = dt.datetime.now(dt.UTC)
    sent = campaigns.create_draft(session, None, ANNOUNCEMENT, now=now - dt.timedelta(days=3))
    audience = Segment(subscribers=True, mailing=m.Mailing.FUNDING_DIGEST.value, contacts=True, org_kinds=("vcse",))
    sent.audience = audience.to_json()
    session.flush()
    if not sending.send_now(session, sent, now - dt.timedelta(days=3)).started:
        return
    if sent.status == m.CampaignStatus.SENDING:  # a large demo audience: queue it here rather than in the worker
        sending.run_send(session, sent, now - dt.timedelta(days=3))
    draft = campaigns.create_draft(session, None, NEWSLETTER, now=now)
    draft.audience = Segment(subscribers=True, mailing=m.Mailing.NEWS.value).to_json()
    session.flush()
