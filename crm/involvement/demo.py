"""Demo involvement data for ``make run``: every part of the domain shows something on first start.

Opportunities of every kind (published, one closed, one waiting for approval from the public form), a lived
experience network of six confirmed members with the involvement mailing on their subscriptions, expressions of
interest at each status, a consultation request sent to four open consultative groups (three answered) and a closed
one with its outcome, and a year of records of involvement. Rows are written through the models directly (the
services may change under other hands); invented names and example.org addresses only. Published opportunities are
marked as already alerted so starting the demo does not email the network.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crm import models as m
from crm.directory.reference import slugify
from crm.internships.rules import closes_at_for, london_today
from crm.settings import Settings

K = m.InvolvementKind
S = m.OpportunityStatus
P = m.PaymentPreference

# title, kind, days until closing, status, paid pence, basis, online, region name, topics, commitment
# fmt: off
OPPORTUNITIES: list[tuple[str, K, int, S, int | None, m.PaymentBasis | None, bool, str, list[str], m.Commitment]] = [
    ("Join the advisory group of a psychosis recovery study", K.ADVISORY_GROUP, 21, S.PUBLISHED, 2500,
     m.PaymentBasis.HOUR, True, "North West", ["Psychosis", "Peer support"], m.Commitment.ONGOING),
    ("Tell us what you think of a research idea on crisis care at night", K.CONSULTATION, 10, S.PUBLISHED, 5000,
     m.PaymentBasis.MEETING, True, "", ["Crisis care"], m.Commitment.ONE_OFF),
    ("Co-produce a study of peer support for new parents", K.CO_PRODUCTION, 35, S.PUBLISHED, 18000,
     m.PaymentBasis.DAY, False, "Yorkshire and The Humber", ["Perinatal mental health", "Peer support"],
     m.Commitment.ONGOING),
    ("Write a lived experience commentary on a paper about eating disorders", K.COMMENTARY, 28, S.PUBLISHED, 20000,
     m.PaymentBasis.TOTAL, True, "", ["Eating disorders"], m.Commitment.A_FEW_SESSIONS),
    ("Speak at a conference on young people's mental health", K.SPEAKING, 14, S.PUBLISHED, None, None, False,
     "London", ["Children and young people", "Student mental health"], m.Commitment.ONE_OFF),
    ("Help design training for researchers on involving carers", K.TRAINING, 42, S.PUBLISHED, 1800,
     m.PaymentBasis.HOUR, True, "Wales", ["Carers"], m.Commitment.A_FEW_SESSIONS),
    ("Review a survey on housing and mental health", K.CONSULTATION, -12, S.CLOSED, 3000, m.PaymentBasis.MEETING,
     True, "", ["Housing and homelessness"], m.Commitment.ONE_OFF),
    ("Shape a study of self-harm support in rural areas", K.ADVISORY_GROUP, 30, S.SUBMITTED, None, None, True,
     "South West", ["Self-harm", "Rural communities"], m.Commitment.A_FEW_SESSIONS),
]

# name, email, kinds, payment preferences, online ok, region names, topics, access needs, experience
MEMBERS: list[tuple[str, str, list[K], list[P], bool, list[str], list[str], str, str]] = [
    ("Amara Demo-Okafor", "amara.demo@example.org", [K.ADVISORY_GROUP, K.CO_PRODUCTION], [P.PAID], True,
     ["North West"], ["Psychosis", "Peer support"], "Papers a week before meetings, please.",
     "Fifteen years of using and then running peer support groups."),
    ("Ben Example-Hughes", "ben.example@example.org", [K.CONSULTATION, K.COMMENTARY], [P.VOUCHERS], True,
     ["Wales"], ["Crisis care", "Carers"], "", "Carer for my brother; I have written for a carers' newsletter."),
    ("Chen Sample-Li", "chen.sample@example.org", [K.SPEAKING, K.TRAINING], [P.PAID, P.VOLUNTEER], False,
     ["London"], ["Student mental health", "Children and young people"], "Step-free access to the room.", ""),
    ("Dee Placeholder", "dee.placeholder@example.org", [K.CO_PRODUCTION, K.CONSULTATION], [P.VOLUNTEER], True,
     ["Yorkshire and The Humber"], ["Perinatal mental health"], "Breaks every hour; camera off in online meetings.",
     "Postnatal depression after my second child; now a volunteer with a parents' group."),
    ("Eli Invented-Shah", "eli.invented@example.org", [K.COMMENTARY, K.ADVISORY_GROUP], [P.PAID], True, [],
     ["Eating disorders", "LGBTQ+ mental health"], "", "Recovered from anorexia; a few published blog posts."),
    ("Fern Demo-Walsh", "fern.demo@example.org", [K.TRAINING, K.SPEAKING, K.CONSULTATION], [P.VOUCHERS, P.VOLUNTEER],
     True, ["South West"], ["Rural communities", "Self-harm"], "Large print documents.", ""),
]
# fmt: on

NETWORK_CONSENT = (
    "I agree that Roundtable keeps what I have shared here, including my lived experience and access needs, to "
    "match me with involvement opportunities and email me about them. Only the fellow sees it. I can change it or "
    "leave the network at any time."
)
INTEREST_CONSENT = (
    "I agree that Roundtable keeps my name, email address and what I write here, and shares them with the people "
    "offering this opportunity so they can contact me about it."
)


def seed(session: Session, settings: Settings) -> None:
    """Every part of involvement, once (nothing is added when an opportunity already exists)."""
    if session.scalar(select(m.InvolvementOpportunity.id).limit(1)) is not None:
        return
    now = dt.datetime.now(dt.UTC)
    topics = {name: topic_id for name, topic_id in session.execute(select(m.Topic.name, m.Topic.id))}
    regions = {name: region_id for name, region_id in session.execute(select(m.Region.name, m.Region.id))}
    academic = list(
        session.scalars(select(m.Organisation).where(m.Organisation.kind == m.OrgKind.ACADEMIC).limit(4))
    ) or [_organisation(session, "University of Northfield Involvement Team (demo)", m.OrgKind.ACADEMIC)]
    opportunities = _opportunities(session, now, academic, topics, regions)
    members = _network(session, now, topics, regions)
    _interests(session, now, opportunities, members)
    requests = _consultations(session, now, academic[0])
    _records(session, now, opportunities, members, requests)


def _organisation(session: Session, name: str, kind: m.OrgKind, **columns: Any) -> m.Organisation:
    org = m.Organisation(name=name, name_normalised=name.lower(), slug=slugify(name), kind=kind, **columns)
    session.add(org)
    session.flush()
    return org


def _opportunities(
    session: Session, now: dt.datetime, academic: list[m.Organisation], topics: dict[str, int], regions: dict[str, int]
) -> list[m.InvolvementOpportunity]:
    today = london_today(now)
    out = []
    for n, (title, kind, days, status, pence, basis, online, region, names, commitment) in enumerate(OPPORTUNITIES):
        closing = today + dt.timedelta(days=days)
        org = academic[n % len(academic)]
        public = status == S.SUBMITTED
        opp = m.InvolvementOpportunity(
            title=title,
            slug=slugify(title),
            kind=kind,
            organisation_id=None if public else org.id,
            summary=f"{org.name} would like people with lived experience to {title[0].lower()}{title[1:]}.",
            lived_experience_sought=(
                f"Your own experience of {names[0].lower()}, or of caring for someone who has it. "
                "You do not need any qualifications or research experience."
            ),
            what_you_will_do=(
                "Read short summaries in plain language, share your views in a small group, and tell us what we "
                "have missed. We will show you what changed because of what you said."
            ),
            region_id=regions.get(region),
            online=online,
            paid=pence is not None,
            payment_pence=pence,
            payment_basis=basis,
            expenses_covered=True,
            payment_note="Vouchers instead of payment if you prefer (for example if you receive benefits)."
            if pence
            else "Expenses only: travel and care costs are paid back within two weeks.",
            commitment=commitment,
            time_commitment={
                m.Commitment.ONE_OFF: "One two-hour session",
                m.Commitment.A_FEW_SESSIONS: "Three sessions over two months",
                m.Commitment.ONGOING: "Two hours a month for a year",
            }[commitment],
            accessibility_support=(
                "Papers in large print or Easy Read, a quiet room, breaks when you need them, and a named person to "
                "talk to before and after each meeting."
            )
            if n % 3 != 2
            else "",
            how_to_express_interest="Use the form on this page. We will reply within a week.",
            closing_date=closing,
            closes_at=closes_at_for(closing),
            status=status,
            contact_name="Involvement Lead (demo)",
            contact_email=f"involvement.lead+{n}@example.org",
            public_posted=public,
            submitted_at=now - dt.timedelta(days=1) if public else None,
            published_at=now - dt.timedelta(days=20 - n) if status in (S.PUBLISHED, S.CLOSED) else None,
            closed_at=now - dt.timedelta(days=-days) if status == S.CLOSED else None,
            alerted_at=now - dt.timedelta(days=20 - n) if status in (S.PUBLISHED, S.CLOSED) else None,
            created_at=now - dt.timedelta(days=22 - n),
            updated_at=now - dt.timedelta(days=22 - n),
        )
        session.add(opp)
        session.flush()
        ids = [topics[t] for t in names if t in topics]
        if ids:
            session.execute(
                insert(m.involvement_opportunity_topics), [{"opportunity_id": opp.id, "topic_id": t} for t in ids]
            )
        out.append(opp)
    return out


def _network(
    session: Session, now: dt.datetime, topics: dict[str, int], regions: dict[str, int]
) -> list[m.NetworkMember]:
    """Six confirmed members, each with the involvement mailing on a subscription and its consent log."""
    out = []
    for n, (name, email, kinds, prefs, online, region_names, topic_names, access, experience) in enumerate(MEMBERS):
        joined = now - dt.timedelta(days=90 - 10 * n)
        sub = session.scalar(select(m.Subscription).where(m.Subscription.email == email))
        if sub is None:
            sub = m.Subscription(
                email=email,
                name=name,
                mailings=[m.Mailing.INVOLVEMENT.value],
                status=m.SubscriptionStatus.ACTIVE,
                confirmed_at=joined,
                created_at=joined,
                updated_at=joined,
            )
            session.add(sub)
            session.flush()
            for action in (m.ConsentAction.SUBSCRIBE, m.ConsentAction.CONFIRM):
                session.add(
                    m.ConsentEntry(
                        subscription_id=sub.id,
                        email=email,
                        action=action,
                        mechanism="web form" if action == m.ConsentAction.SUBSCRIBE else "email link",
                        source_url="/involvement/network",
                        mailings=[m.Mailing.INVOLVEMENT.value],
                        detail={"via": "lived experience network"},
                        created_at=joined,
                    )
                )
        member = m.NetworkMember(
            email=email,
            name=name,
            status=m.NetworkMemberStatus.ACTIVE,
            kinds=[k.value for k in kinds],
            payment_preferences=[p.value for p in prefs],
            online_ok=online,
            access_needs=access,
            experience=experience,
            consent_wording=NETWORK_CONSENT,
            consented_at=joined,
            confirmed_at=joined,
            subscription_id=sub.id,
            created_at=joined,
            updated_at=joined,
        )
        session.add(member)
        session.flush()
        if ids := [topics[t] for t in topic_names if t in topics]:
            session.execute(insert(m.network_member_topics), [{"member_id": member.id, "topic_id": t} for t in ids])
        if ids := [regions[r] for r in region_names if r in regions]:
            session.execute(insert(m.network_member_regions), [{"member_id": member.id, "region_id": r} for r in ids])
        out.append(member)
    return out


def _interests(
    session: Session, now: dt.datetime, opportunities: list[m.InvolvementOpportunity], members: list[m.NetworkMember]
) -> None:
    """Expressions of interest at every status: from network members (one invited by the fellow) and the public."""
    I = m.InvolvementInterestStatus  # noqa: E741
    rows = [
        (0, members[0], None, I.SELECTED, "invited", "I have been to groups like this before and would love to help."),
        (0, members[4], None, I.CONTACTED, "interest", ""),
        (0, None, ("Gus Sample", "gus.sample@example.org"), I.NOT_SELECTED, "interest", "I live near Manchester."),
        (1, members[1], None, I.NEW, "interest", "Night-time crisis care is exactly what I know about."),
        (1, None, ("Hana Example", "hana.example@example.org"), I.NEW, "interest", ""),
        (2, members[3], None, I.SELECTED, "interest", "I can do Tuesdays."),
        (6, members[5], None, I.SELECTED, "interest", ""),
    ]
    for n, (index, member, person, status, source, note) in enumerate(rows):
        name, email = (member.name, member.email) if member is not None else person  # type: ignore[misc]
        at = now - dt.timedelta(days=12 - n)
        decided = status in (I.SELECTED, I.NOT_SELECTED)
        session.add(
            m.InvolvementInterest(
                opportunity_id=opportunities[index].id,
                member_id=member.id if member is not None else None,
                name=name,
                email=email,
                note=note,
                access_needs=member.access_needs if member is not None else "",
                consent_wording=INTEREST_CONSENT,
                consented_at=at,
                created_at=at,
                source=source,
                status=status,
                status_changed_at=at + dt.timedelta(days=2) if status != I.NEW else None,
                notified_status=status.value if decided else "",
                notified_at=at + dt.timedelta(days=2) if decided else None,
            )
        )
    session.flush()


def _consultations(session: Session, now: dt.datetime, researchers: m.Organisation) -> list[m.ConsultationRequest]:
    """A request sent to four open consultative groups (three answered), and an earlier closed one with its outcome."""
    groups = list(
        session.scalars(
            select(m.Organisation)
            .where(
                m.Organisation.vcse_category == m.VcseCategory.OPEN_CONSULTATIVE,
                m.Organisation.public_email != "",
            )
            .order_by(m.Organisation.id)
            .limit(4)
        )
    )
    for n in range(len(groups), 4):
        groups.append(
            _organisation(
                session,
                f"Open Voices Involvement Group {n + 1} (demo)",
                m.OrgKind.VCSE,
                vcse_category=m.VcseCategory.OPEN_CONSULTATIVE,
                public_email=f"open.voices{n + 1}@example.org",
            )
        )
    today = london_today(now)
    common = {
        "researcher_name": "Dr Rowan Demo",
        "organisation_id": researchers.id,
        "offer_payment": "£50 per group session",
        "offer_expenses": True,
        "offer_acknowledgement": True,
        "reply_email": "rowan.demo@example.org",
        "nudge_after_days": 7,
    }
    sent = m.ConsultationRequest(
        title="Feedback on a study of waiting times for talking therapies",
        project_summary=(
            "We want to find out why some people wait much longer than others for talking therapies, and what "
            "helps while they wait. We will look at records from three areas and talk to people who waited."
        ),
        feedback_wanted="Are these the right questions? What would make it easier for people to take part?",
        answer_by=today + dt.timedelta(days=12),
        status=m.ConsultationStatus.SENT,
        sent_at=now - dt.timedelta(days=9),
        answer_key=secrets.token_urlsafe(24),
        created_at=now - dt.timedelta(days=10),
        updated_at=now - dt.timedelta(days=9),
        **common,
    )
    closed = m.ConsultationRequest(
        title="Feedback on an app to support people after a crisis",
        project_summary="We are testing an app that helps people plan the days after leaving crisis care.",
        feedback_wanted="What should the app never do? What words should it avoid?",
        answer_by=today - dt.timedelta(days=60),
        status=m.ConsultationStatus.CLOSED,
        sent_at=now - dt.timedelta(days=95),
        closed_at=now - dt.timedelta(days=60),
        outcome="Three groups answered; two ran a session with their members.",
        what_changed="The app no longer sends reminders at night, and 'non-compliant' is gone from every screen.",
        answer_key=secrets.token_urlsafe(24),
        created_at=now - dt.timedelta(days=96),
        updated_at=now - dt.timedelta(days=60),
        **common,
    )
    session.add_all([sent, closed])
    session.flush()
    A = m.ConsultationAnswer
    answers = [
        (A.YES, "We would be glad to. We meet on the first Monday of the month.", "Pat Example"),
        (A.QUESTIONS, "Could you come to our group in person rather than online?", "Sam Sample"),
        (A.NO, "Not this time: our members are busy with our own project until spring.", "Jo Placeholder"),
        (A.NONE, "", ""),
    ]
    for n, (group, (answer, note, by)) in enumerate(zip(groups, answers, strict=True)):
        session.add(
            m.ConsultationRecipient(
                request_id=sent.id,
                organisation_id=group.id,
                email=group.public_email,
                answer=answer,
                answer_note=note,
                answered_by=by,
                answered_at=now - dt.timedelta(days=7 - n) if answer != A.NONE else None,
                sent_at=sent.sent_at,
                nudged_at=now - dt.timedelta(days=2) if answer == A.NONE else None,
            )
        )
        if n < 3:
            session.add(
                m.ConsultationRecipient(
                    request_id=closed.id,
                    organisation_id=group.id,
                    email=group.public_email,
                    answer=A.YES,
                    answer_note="Our members were glad to help.",
                    answered_by=by,
                    answered_at=now - dt.timedelta(days=90 - n),
                    sent_at=closed.sent_at,
                )
            )
    session.flush()
    return [sent, closed]


def _records(
    session: Session,
    now: dt.datetime,
    opportunities: list[m.InvolvementOpportunity],
    members: list[m.NetworkMember],
    requests: list[m.ConsultationRequest],
) -> None:
    """A year of involvement across four quarters: people (paid, vouchers, anonymous by choice) and groups."""
    R = m.Recognition
    partnership = session.scalar(select(m.Partnership.id).order_by(m.Partnership.id).limit(1))
    groups = list(
        session.scalars(
            select(m.ConsultationRecipient.organisation_id)
            .where(m.ConsultationRecipient.request_id == requests[1].id)
            .order_by(m.ConsultationRecipient.id)
        )
    )
    today = london_today(now)
    # fmt: off
    rows: list[dict[str, Any]] = [
        dict(member=members[0], opp=0, activity="Advisory group meeting", days=20, minutes=120, pay=5000, exp=1240),
        dict(member=members[0], opp=0, activity="Advisory group meeting", days=50, minutes=120, pay=5000, exp=980),
        dict(member=members[3], opp=2, activity="Co-designed the interview guide", days=35, minutes=300, pay=18000),
        dict(member=members[4], opp=3, activity="Lived experience commentary", days=140, minutes=480, pay=20000,
             recognition=R.COMMENTARY_AUTHOR),
        dict(member=members[5], opp=6, activity="Reviewed the housing survey", days=75, minutes=90, pay=3000,
             note="Paid in vouchers, as asked."),
        dict(member=members[1], opp=None, activity="Co-authored a paper on carers' crisis plans", days=220,
             minutes=900, pay=40000, recognition=R.NAMED_COAUTHOR, partnership=True),
        dict(member=None, opp=None, activity="Spoke at the regional research day", days=260, minutes=60, pay=0,
             exp=2300, recognition=R.ANONYMOUS, name=""),
    ]
    rows += [
        dict(group=g, activity="Group session on the crisis app", days=85 - 5 * n, minutes=120, pay=5000, exp=600,
             partnership=n == 0, request=True)
        for n, g in enumerate(groups)
    ]
    # fmt: on
    for row in rows:
        member: m.NetworkMember | None = row.get("member")
        on = today - dt.timedelta(days=row["days"])
        session.add(
            m.InvolvementRecord(
                opportunity_id=opportunities[row["opp"]].id if row.get("opp") is not None else None,
                consultation_request_id=requests[1].id if row.get("request") else None,
                organisation_id=row.get("group"),
                partnership_id=partnership if row.get("partnership") else None,
                member_id=member.id if member is not None else None,
                person_name=row.get("name", member.name if member is not None else ""),
                activity=row["activity"],
                took_part_on=on,
                minutes=row["minutes"],
                payment_pence=row["pay"],
                expenses_pence=row.get("exp", 0),
                recognition=row.get("recognition", R.ACKNOWLEDGED),
                note=row.get("note", ""),
                created_at=now - dt.timedelta(days=row["days"] - 1),
            )
        )
        if member is not None:
            when = dt.datetime.combine(on, dt.time(12), dt.UTC)
            member.last_involved_at = max(member.last_involved_at or when, when)
    session.flush()
