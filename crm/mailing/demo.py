"""Demo subscribers: invented names at example.org, with consent histories (never real people)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.mailing.consent import CONSENT_VERSION, How, log_consent
from crm.mailing.suppression import suppress
from crm.settings import Settings

FIRST = [
    "Amara",
    "Ben",
    "Chidi",
    "Dana",
    "Elin",
    "Farah",
    "Gus",
    "Hana",
    "Ifan",
    "Jo",
    "Kit",
    "Lena",
    "Mo",
    "Nia",
    "Oren",
    "Pip",
    "Quinn",
    "Rhys",
    "Sana",
    "Tam",
    "Uma",
    "Vik",
    "Wren",
    "Yas",
    "Zed",
]
LAST = [
    "Ashdown",
    "Brackley",
    "Cobbold",
    "Dunmore",
    "Elsworth",
    "Fenwick",
    "Garside",
    "Hollins",
    "Ibbot",
    "Jessop",
    "Kershaw",
    "Lowther",
    "Marlow",
    "Nettle",
    "Ormsby",
    "Pennock",
    "Quarry",
    "Rudd",
    "Sowerby",
    "Thwaite",
]
ORGS = [
    "Riverside Peer Support",
    "Northgate Wellbeing Collective",
    "Harbour Minds CIC",
    "University of Eastmere",
    "Greenway Recovery Trust",
    "Moorland Listening Service",
    "Westbury Youth Voice",
    "",
]


def seed(session: Session, settings: Settings) -> None:
    if session.scalar(select(m.Subscription.id).limit(1)) is not None:
        return
    rng = random.Random(5)
    topics = list(session.scalars(select(m.Topic).order_by(m.Topic.id)))
    regions = list(session.scalars(select(m.Region).order_by(m.Region.position)))
    now = dt.datetime.now(dt.UTC)
    mailings_all = [x.value for x in m.Mailing]
    for i in range(48):
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
        email = f"{name.lower().replace(' ', '.')}{i}@example.org"
        status = m.SubscriptionStatus.ACTIVE
        if i % 12 == 5:
            status = m.SubscriptionStatus.PENDING
        elif i % 12 == 9:
            status = m.SubscriptionStatus.UNSUBSCRIBED
        elif i % 16 == 13:
            status = m.SubscriptionStatus.PAUSED
        # The involvement mailing belongs to network members (crm/involvement/network.py), never a random subscriber;
        # the draw is still made so the rest of the demo stays as it was.
        chosen = [x for x in mailings_all if rng.random() < 0.6 and x != m.Mailing.INVOLVEMENT] or ["funding_digest"]
        signed_up = now - dt.timedelta(days=rng.randint(3, 300))
        sub = m.Subscription(
            email=email,
            name=name,
            organisation_name=ORGS[i % len(ORGS)],
            mailings=chosen,
            frequency=m.Frequency.MONTHLY if i % 3 == 0 else m.Frequency.WEEKLY,
            only_vcse_partner_calls=i % 5 == 0,
            status=m.SubscriptionStatus.PENDING,
            consent_version=CONSENT_VERSION,
            topics=rng.sample(topics, k=min(len(topics), rng.randint(0, 3))) if topics else [],
            regions=rng.sample(regions, k=min(len(regions), rng.randint(0, 2))) if regions else [],
            created_at=signed_up,
            updated_at=signed_up,
        )
        if "internship_alerts" in chosen and i % 2:
            sub.filters = {"internship_alerts": {"paid_only": True}}
        session.add(sub)
        session.flush()
        how = How(mechanism="web form", source_url="/subscribe", ip=f"192.0.2.{i + 1}", user_agent="Demo browser")
        entry = log_consent(session, sub, email, m.ConsentAction.SUBSCRIBE, how, version=CONSENT_VERSION)
        entry.created_at = signed_up
        if status != m.SubscriptionStatus.PENDING:
            sub.status = m.SubscriptionStatus.ACTIVE
            sub.confirmed_at = signed_up + dt.timedelta(minutes=rng.randint(2, 600))
            entry = log_consent(
                session,
                sub,
                email,
                m.ConsentAction.CONFIRM,
                How(mechanism="confirmation link"),
                version=CONSENT_VERSION,
            )
            entry.created_at = sub.confirmed_at
        if status == m.SubscriptionStatus.PAUSED:
            sub.status = status
            log_consent(session, sub, email, m.ConsentAction.PAUSE, How(mechanism="preference centre"))
        if status == m.SubscriptionStatus.UNSUBSCRIBED:
            sub.status = status
            sub.unsubscribed_at = now - dt.timedelta(days=rng.randint(1, 30))
            suppress(session, email, "unsubscribed", "one-click header", "demo", sub.unsubscribed_at)
            log_consent(
                session, sub, email, m.ConsentAction.UNSUBSCRIBE_ALL, How(mechanism="one-click header"), mailings=chosen
            )
    suppress(session, "bounced.address@example.org", "bounce", "sendgrid", "demo: 550 mailbox does not exist")
