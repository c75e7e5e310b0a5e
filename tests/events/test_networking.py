"""Who's going, introductions after the event, and speed networking (issue 20.5)."""

from __future__ import annotations

import datetime as dt
import html
import itertools

import pytest
from sqlalchemy import func, select

from crm import models as m
from crm.events import networking, speed
from crm.events.mail import rsvp_token
from tests import factories
from tests.conftest import post_form
from tests.events import factories as f

S = m.InvitationStatus


def _person(db, e, name, kind, topics=(), *, status=S.YES, share=False, introduce=False, looking_for=""):
    org = factories.organisation(db, f"{name} Org", kind, topics=topics)
    c = factories.contact(db, name, email=f"{name.split()[0].lower()}@example.org", organisation=org)
    inv = f.invite(db, e, c, is_vcse=kind == m.OrgKind.VCSE)
    inv.status = status
    networking.save_choices(inv, share=share, introduce=introduce, looking_for=looking_for)
    return inv


def _ended_event(app, db):
    """An event that started two days ago and has ended (the admin pages use the real clock)."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    return f.event(db, app, now=start - dt.timedelta(days=1), days=1)


def test_the_rsvp_page_saves_the_choices_and_shows_who_chose_to_be_seen(app, db, client):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    _person(db, e, "Shona Visible", m.OrgKind.VCSE, share=True)
    _person(db, e, "Hidden Person", m.OrgKind.ACADEMIC)
    _person(db, e, "Maybe Shown", m.OrgKind.ACADEMIC, status=S.MAYBE, share=True)
    me = _person(db, e, "Asha Reader", m.OrgKind.ACADEMIC, status=S.INVITED)
    db.commit()
    token = rsvp_token(app.state.signer, e.id, me.contact_id)
    before = html.unescape(client.get(f"/rsvp/{token}").text)
    assert "Who's going" not in before and "Shona Visible" not in before  # no place, no list
    assert 'name="share_with_attendees"' in before and 'name="wants_introductions"' in before
    r = post_form(
        client,
        f"/rsvp/{token}",
        {"answer": "yes", "share_with_attendees": "on", "wants_introductions": "on", "looking_for": "peer  support"},
    )
    page = html.unescape(r.text)
    assert r.status_code == 200 and "Who's going" in page
    assert "Shona Visible (Shona Visible Org)" in page
    assert "Hidden Person" not in page and "Maybe Shown" not in page  # not opted in / no place
    db.expire_all()
    saved = db.get(m.Invitation, me.id)
    assert saved.share_with_attendees and saved.wants_introductions and saved.looking_for == "peer support"
    # Unticking is honoured: the boxes are off unless sent.
    post_form(client, f"/rsvp/{token}", {"answer": "yes"})
    db.expire_all()
    assert not db.get(m.Invitation, me.id).share_with_attendees


def test_pairs_mix_vcse_and_academic_people_who_both_opted_in_with_reasons(app, db):
    e = _ended_event(app, db)
    carer = _person(
        db, e, "Cara Group", m.OrgKind.VCSE, ["Carers"], introduce=True, looking_for="peer support research"
    )
    _person(db, e, "Vic Nointro", m.OrgKind.VCSE, ["Carers"])  # did not ask: never proposed
    prof = _person(db, e, "Ava Academic", m.OrgKind.ACADEMIC, ["Carers", "Peer support"], introduce=True)
    _person(
        db, e, "Other Vcse", m.OrgKind.VCSE, ["Housing and homelessness"], introduce=True
    )  # nothing in common with anyone
    _person(db, e, "Absent Prof", m.OrgKind.ACADEMIC, ["Carers"], introduce=True).attended = False
    db.commit()
    added = networking.propose(db, None, e, dt.datetime.now(dt.UTC))
    assert added == 1
    intro = db.scalar(select(m.Introduction))
    assert (intro.first_invitation_id, intro.second_invitation_id) == (carer.id, prof.id)
    assert intro.reasons[0] == "Both work on Carers"
    assert "Cara Group is looking for “peer support research”; Ava Academic's work covers Peer support" in intro.reasons
    # Proposing again adds nothing (a pair is proposed once, whatever became of it).
    assert networking.propose(db, None, e, dt.datetime.now(dt.UTC)) == 0


def test_introductions_wait_for_the_end_of_the_event(app, db, admin_client):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC))
    db.commit()
    r = post_form(admin_client, f"/admin/events/{e.id}/introductions/propose", {})
    assert r.status_code == 409 and "after the event has ended" in r.text


def test_the_fellow_approves_and_the_emails_go_once_only_between_people_who_both_opted_in(app, db, admin_client):
    e = _ended_event(app, db)
    a = _person(db, e, "Cara Group", m.OrgKind.VCSE, ["Carers"], introduce=True)
    b = _person(db, e, "Ava Academic", m.OrgKind.ACADEMIC, ["Carers"], introduce=True)
    c = _person(db, e, "Ben Later", m.OrgKind.ACADEMIC, ["Carers"], introduce=True)
    db.commit()
    post_form(admin_client, f"/admin/events/{e.id}/introductions/propose", {})
    page = html.unescape(admin_client.get(f"/admin/events/{e.id}/networking").text)
    assert "Cara Group" in page and "Ava Academic" in page and "Both work on Carers" in page
    intros = {i.second_invitation_id: i for i in db.scalars(select(m.Introduction))}
    assert set(intros) == {b.id, c.id}
    refused = post_form(admin_client, f"/admin/events/{e.id}/introductions/send", {})
    assert refused.status_code == 422 and "Approve at least one" in refused.text
    for intro in intros.values():
        post_form(admin_client, f"/admin/events/{e.id}/introductions/{intro.id}/approve", {})
    # Ben changes his mind before the emails go: his pair is left out.
    db.get(m.Invitation, c.id).wants_introductions = False
    db.commit()
    confirm = post_form(admin_client, f"/admin/events/{e.id}/introductions/send", {})
    assert "Send 2 introductions?" in html.unescape(confirm.text)
    for _ in range(2):  # a second press sends nothing twice
        post_form(admin_client, f"/admin/events/{e.id}/introductions/send", {"confirm": "1"})
    mail = db.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "event_introduction")).all()
    assert sorted(x.recipient for x in mail) == ["ava@example.org", "cara@example.org"]
    to_cara = next(x for x in mail if x.recipient == "cara@example.org")
    assert (
        to_cara.headers["Reply-To"] == "ava@example.org" and "Meet Ava Academic" in to_cara.subject + to_cara.html_body
    )
    assert "ava@example.org" in to_cara.text_body and "Both work on Carers" in to_cara.text_body
    db.expire_all()
    assert db.get(m.Introduction, intros[b.id].id).status == m.IntroductionStatus.SENT
    assert db.get(m.Introduction, intros[c.id].id).status == m.IntroductionStatus.DISMISSED
    late = post_form(admin_client, f"/admin/events/{e.id}/introductions/{intros[b.id].id}/dismiss", {})
    assert late.status_code == 409 and "can no longer be changed" in late.text
    assert db.scalar(select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.action == "sent introductions"))
    assert a.id


@pytest.mark.parametrize(("vcse", "others"), [(4, 4), (5, 4), (3, 6), (7, 0), (1, 1)])
def test_speed_networking_rounds_never_repeat_a_pair_and_mix_sides_first(vcse, others):
    people = [speed.Seat(i, f"V{i}", "", True) for i in range(vcse)]
    people += [speed.Seat(100 + i, f"O{i}", "", False) for i in range(others)]
    plan = speed.rounds(people, 8)
    pairs = [frozenset((a.invitation_id, b.invitation_id)) for r in plan for a, b in r.pairs]
    assert len(pairs) == len(set(pairs)) and plan
    for r in plan:
        seated = [p.invitation_id for a, b in r.pairs for p in (a, b)] + [p.invitation_id for p in r.resting]
        assert sorted(seated) == sorted(p.invitation_id for p in people)  # everyone once per round
        assert r.mixed == min(vcse, others) or len(plan) > min(vcse, others)
    if vcse == others == 4:
        assert len(plan) >= 4 and all(r.mixed == 4 for r in plan[:4])  # four rounds, every table mixed
    if (vcse, others) == (1, 1):
        assert len(plan) == 1  # the only pair cannot meet again


def test_speed_networking_page_lists_rounds_for_people_coming(app, db, admin_client):
    e = f.event(db, app, now=dt.datetime.now(dt.UTC), speed_networking=True)
    names = [("Vera One", m.OrgKind.VCSE), ("Vik Two", m.OrgKind.VCSE), ("Ada Three", m.OrgKind.ACADEMIC)]
    names += [("Abe Four", m.OrgKind.ACADEMIC), ("No Show", m.OrgKind.ACADEMIC)]
    for name, kind in names:
        inv = _person(db, e, name, kind)
        if name == "No Show":
            inv.status = S.NO
    db.commit()
    page = html.unescape(admin_client.get(f"/admin/events/{e.id}/speed-networking?rounds=3").text)
    assert "Round 1" in page and "Round 2" in page and "No Show" not in page
    assert "Vera One (Vera One Org)" in page
    assert admin_client.get(f"/admin/events/{e.id}/speed-networking?rounds=abc").status_code == 200
    event_page = admin_client.get(f"/admin/events/{e.id}").text
    assert f"/admin/events/{e.id}/speed-networking" in event_page


def test_networking_pages_cost_the_same_statements_at_any_size(app, db, admin_client, count_queries):
    e = _ended_event(app, db)
    counter = itertools.count()

    def add(n):
        for _ in range(n):
            i = next(counter)
            _person(db, e, f"Vee{i} Person", m.OrgKind.VCSE, ["Carers"], share=True, introduce=True)
            _person(db, e, f"Aye{i} Person", m.OrgKind.ACADEMIC, ["Carers"], share=True, introduce=True)
        db.commit()
        post_form(admin_client, f"/admin/events/{e.id}/introductions/propose", {})

    add(2)
    with count_queries() as small:
        assert admin_client.get(f"/admin/events/{e.id}/networking").status_code == 200
    add(10)
    with count_queries() as large:
        assert admin_client.get(f"/admin/events/{e.id}/networking").status_code == 200
    assert large.count == small.count
