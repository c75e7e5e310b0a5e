"""The segment builder (issue 16): each filter, each reason someone is left out, one email per address, the page,
and a statement count that stays flat per 1,000 people."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select

from crm import models as m
from crm.campaigns import audience
from crm.campaigns.audience import Segment
from crm.errors import FieldErrors
from crm.mailing.compliance import CONTACT_STREAM
from crm.mailing.suppression import address_hash
from tests import factories as f
from tests.conftest import post_form

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
S = m.SubscriptionStatus


def sub(
    db: Any, email: str, *, mailings: tuple[str, ...] = ("news",), status: S = S.ACTIVE, **kw: Any
) -> m.Subscription:
    topic_ids = kw.pop("topic_ids", ())
    region_ids = kw.pop("region_ids", ())
    s = m.Subscription(
        email=email, name=kw.pop("name", email.split("@")[0].title()), mailings=list(mailings), status=status, **kw
    )
    db.add(s)
    db.flush()
    if topic_ids:
        db.execute(insert(m.subscription_topics), [{"subscription_id": s.id, "topic_id": t} for t in topic_ids])
    if region_ids:
        db.execute(insert(m.subscription_regions), [{"subscription_id": s.id, "region_id": r} for r in region_ids])
    return s


def event(db: Any, title: str = "Briefing") -> m.Event:
    e = m.Event(
        uid=f"evt-{uuid.uuid4()}@test",
        title=title,
        slug=f"{title.lower()}-{uuid.uuid4().hex[:6]}",
        starts_at=NOW,
        ends_at=NOW + dt.timedelta(hours=2),
    )
    db.add(e)
    db.flush()
    return e


def emails(res: audience.Resolution, part: str | None = None) -> set[str]:
    return {r.email for r in res.recipients if part is None or r.part == part}


SUBS = Segment(subscribers=True)
CONTACTS = Segment(contacts=True)


# --- subscribers -----------------------------------------------------------------------------------------------


def test_subscribers_by_mailing_topic_region_and_funder(db: Any) -> None:
    housing, carers = f.topic(db, "Housing and homelessness"), f.topic(db, "Carers")
    london = f.region(db, "London")
    funder_a, funder_b = f.funder(db), f.funder(db)
    sub(db, "news@example.org")
    sub(db, "events@example.org", mailings=("event_news",))
    sub(db, "housing@example.org", topic_ids=(housing.id,))
    sub(db, "carers@example.org", topic_ids=(carers.id,))
    sub(db, "london@example.org", region_ids=(london.id,))
    sub(db, "funder-a@example.org", funder_ids=[funder_a.id])
    sub(db, "funder-b@example.org", funder_ids=[funder_b.id])
    db.commit()

    everyone = audience.resolve(db, SUBS)
    assert "events@example.org" not in emails(everyone)
    assert len(everyone.recipients) == 6
    assert everyone.included == {"subscribers": 6}
    assert emails(audience.resolve(db, Segment(subscribers=True, mailing="event_news"))) == {"events@example.org"}

    # Chose housing, or chose no topic (asked for everything); not carers only.
    by_topic = emails(audience.resolve(db, Segment(subscribers=True, sub_topic_ids=(housing.id,))))
    assert "housing@example.org" in by_topic and "news@example.org" in by_topic
    assert "carers@example.org" not in by_topic
    by_region = emails(audience.resolve(db, Segment(subscribers=True, sub_region_ids=(f.region(db, "Wales").id,))))
    assert "london@example.org" not in by_region and "news@example.org" in by_region
    by_funder = emails(audience.resolve(db, Segment(subscribers=True, funder_ids=(funder_a.id,))))
    assert "funder-a@example.org" in by_funder and "funder-b@example.org" not in by_funder
    assert "news@example.org" in by_funder


def test_subscriber_recipient_carries_stream_and_why(db: Any) -> None:
    s = sub(db, "Reader@Example.org", name="Ada Reader")
    db.commit()
    (r,) = audience.resolve(db, SUBS).recipients
    assert (r.email, r.name, r.part, r.subscription_id, r.mailing) == (
        "reader@example.org",
        "Ada Reader",
        "subscribers",
        s.id,
        "news",
    )
    assert r.why == (
        "You get this because you subscribed to Roundtable's News and announcements and confirmed your address."
    )


def test_subscribers_left_out_and_why(db: Any) -> None:
    sub(db, "ok@example.org")
    sub(db, "pending@example.org", status=S.PENDING)
    sub(db, "paused@example.org", status=S.PAUSED)
    sub(db, "gone@example.org", status=S.UNSUBSCRIBED)
    sub(db, "bounced@example.org", status=S.BOUNCED)
    sub(db, "plain@example.org")
    sub(db, "erased@example.org")
    withdrew = sub(db, "withdrew@example.org", mailings=("funding_digest",))
    sub(db, "never@example.org", mailings=("funding_digest",))  # never chose news: not in the audience at all
    db.add(
        m.ConsentEntry(
            subscription_id=withdrew.id, email=withdrew.email, action=m.ConsentAction.UNSUBSCRIBE, mailings=["news"]
        )
    )
    db.add(m.Suppression(address="plain@example.org", reason="bounce", source="test"))
    db.add(m.Suppression(address=address_hash("erased@example.org"), reason="complaint", source="test"))
    db.add(m.Suppression(address="lifted@example.org", reason="bounce", source="test", lifted_at=NOW))
    sub(db, "lifted@example.org")
    db.commit()

    res = audience.resolve(db, SUBS)
    assert emails(res) == {"ok@example.org", "lifted@example.org"}
    assert res.excluded == {
        audience.SUPPRESSED: 3,
        audience.UNSUBSCRIBED: 2,
        audience.NO_CONSENT: 2,
    }
    assert any("withdrew@example.org" in e for e in res.examples[audience.UNSUBSCRIBED])


# --- directory contacts -------------------------------------------------------------------------------------


def test_contacts_by_organisation_kind_category_and_leadership(db: Any) -> None:
    vcse = f.organisation(db, "Peer Group", vcse_category=m.VcseCategory.FREE_STANDING, user_led=True)
    lived = f.organisation(db, "Voices", vcse_category=m.VcseCategory.PROJECT_SPECIFIC, lived_experience_led=True)
    uni = f.organisation(db, "University", m.OrgKind.ACADEMIC)
    f.contact(db, "Vera", "vera@example.org", organisation=vcse)
    f.contact(db, "Lia", "lia@example.org", organisation=lived)
    f.contact(db, "Uma", "uma@example.org", organisation=uni)
    db.commit()

    assert emails(audience.resolve(db, CONTACTS)) == {"vera@example.org", "lia@example.org", "uma@example.org"}
    assert emails(audience.resolve(db, Segment(contacts=True, org_kinds=("academic",)))) == {"uma@example.org"}
    got = audience.resolve(db, Segment(contacts=True, vcse_categories=("project-specific-group",)))
    assert emails(got) == {"lia@example.org"}
    assert emails(audience.resolve(db, Segment(contacts=True, led_by=("user_led",)))) == {"vera@example.org"}
    both = Segment(contacts=True, led_by=("user_led", "lived_experience_led"))
    assert emails(audience.resolve(db, both)) == {"vera@example.org", "lia@example.org"}
    # One organisation must match every organisation choice.
    assert not audience.resolve(db, Segment(contacts=True, org_kinds=("academic",), led_by=("user_led",))).recipients


def test_contacts_by_region_and_topic_their_own_or_their_organisations(db: Any) -> None:
    london_org = f.organisation(db, "London Org", region_name="London", topics=["Housing and homelessness"])
    other = f.organisation(db, "Elsewhere", region_name="Wales")
    f.contact(db, "At London", "a@example.org", organisation=london_org)
    own = f.contact(db, "Own", "b@example.org", organisation=other)
    f.contact(db, "Neither", "c@example.org", organisation=other)
    db.execute(insert(m.contact_regions), [{"contact_id": own.id, "region_id": f.region(db, "London").id}])
    db.execute(
        insert(m.contact_topics), [{"contact_id": own.id, "topic_id": f.topic(db, "Housing and homelessness").id}]
    )
    db.commit()
    london = f.region(db, "London").id
    housing = f.topic(db, "Housing and homelessness").id
    assert emails(audience.resolve(db, Segment(contacts=True, region_ids=(london,)))) == {
        "a@example.org",
        "b@example.org",
    }
    assert emails(audience.resolve(db, Segment(contacts=True, topic_ids=(housing,)))) == {
        "a@example.org",
        "b@example.org",
    }


def test_contacts_by_list_partnership_and_event(db: Any) -> None:
    org, partner_org = f.organisation(db, "Org"), f.organisation(db, "Partner Org")
    listed = f.contact(db, "Listed", "listed@example.org", organisation=org)
    by_org = f.contact(db, "By Org", "byorg@example.org", organisation=partner_org)
    named = f.contact(db, "Named", "named@example.org", organisation=org)
    invited = f.contact(db, "Invited", "invited@example.org", organisation=org)
    came = f.contact(db, "Came", "came@example.org", organisation=org)
    lst = m.ContactList(name="Briefing list")
    p = m.Partnership(title="Carers study")
    db.add_all([lst, p])
    db.flush()
    db.add(m.ContactListMember(list_id=lst.id, contact_id=listed.id))
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.VCSE, organisation_id=partner_org.id))
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.ACADEMIC, contact_id=named.id))
    e = event(db)
    db.add(m.Invitation(event_id=e.id, contact_id=invited.id))
    db.add(m.Invitation(event_id=e.id, contact_id=came.id, status=m.InvitationStatus.YES, attended=True))
    db.commit()

    assert emails(audience.resolve(db, Segment(contacts=True, list_ids=(lst.id,)))) == {"listed@example.org"}
    assert emails(audience.resolve(db, Segment(contacts=True, partnership_ids=(p.id,)))) == {
        "byorg@example.org",
        "named@example.org",
    }
    assert emails(audience.resolve(db, Segment(contacts=True, invited_event_ids=(e.id,)))) == {
        "invited@example.org",
        "came@example.org",
    }
    assert emails(audience.resolve(db, Segment(contacts=True, attended_event_ids=(e.id,)))) == {"came@example.org"}
    assert by_org.id  # (used through its organisation)


def test_contact_recipient_carries_the_contact_stream_and_why(db: Any) -> None:
    org = f.organisation(db, "Carers Together")
    other = f.organisation(db, "Another Place")
    c = f.contact(db, "Cara", "cara@example.org", organisation=org)
    db.add(m.Affiliation(contact_id=c.id, organisation_id=other.id, is_primary=False))
    db.commit()
    (r,) = audience.resolve(db, CONTACTS).recipients
    assert (r.part, r.contact_id, r.subscription_id, r.mailing) == ("contacts", c.id, None, CONTACT_STREAM)
    assert r.why == (
        "You get this because you are listed as a contact at Carers Together in the Roundtable partner directory. "
        "You can stop these emails with one click."
    )


def test_contacts_left_out_and_why(db: Any) -> None:
    org = f.organisation(db, "Org")
    rejected = f.organisation(db, "Rejected", review_status=m.ReviewStatus.REJECTED)
    f.contact(db, "Fine", "fine@example.org", organisation=org)
    f.contact(db, "No Address", None, organisation=org)
    f.contact(db, "Alone", "alone@example.org")
    f.contact(db, "Rejected Only", "rej@example.org", organisation=rejected)
    f.contact(db, "Erased", None, organisation=org, erased_at=NOW)
    f.contact(db, "Suppressed", "supp@example.org", organisation=org)
    f.contact(db, "Hashed", "hashed@example.org", organisation=org)
    f.contact(db, "Ended", "ended@example.org", organisation=org)
    f.contact(db, "Opted Out", "optout@example.org", organisation=org)
    f.contact(db, "Paused Sub", "paused@example.org", organisation=org)
    db.add(m.Suppression(address="supp@example.org", reason="unsubscribed", source="test"))
    db.add(m.Suppression(address=address_hash("hashed@example.org"), reason="bounce", source="test"))
    sub(db, "ended@example.org", status=S.UNSUBSCRIBED)
    opted = sub(db, "optout@example.org", mailings=("funding_digest",))
    db.add(
        m.ConsentEntry(
            subscription_id=opted.id, email=opted.email, action=m.ConsentAction.UNSUBSCRIBE, mailings=[CONTACT_STREAM]
        )
    )
    sub(db, "paused@example.org", status=S.PAUSED)
    db.commit()

    res = audience.resolve(db, CONTACTS)
    # A paused subscription stops their mailings, not the fellow's emails to them at their organisation.
    assert emails(res) == {"fine@example.org", "paused@example.org"}
    assert res.excluded == {
        audience.NO_EMAIL: 1,
        audience.SUPPRESSED: 2,
        audience.UNSUBSCRIBED: 2,
        audience.NO_ORGANISATION: 2,
    }
    assert res.examples[audience.NO_ORGANISATION] == ["Alone <alone@example.org>", "Rejected Only <rej@example.org>"]


def test_exclusions_by_list_event_organisation_and_address(db: Any) -> None:
    org, skip_org = f.organisation(db, "Org"), f.organisation(db, "Skip Org")
    people = {
        n: f.contact(db, n.title(), f"{n}@example.org", organisation=org)
        for n in ("keep", "listed", "invited", "came", "typed")
    }
    f.contact(db, "At Skip", "atskip@example.org", organisation=skip_org)
    sub(db, "listed@example.org")  # a subscriber who is also on the excluded list
    sub(db, "subkeep@example.org")
    lst = m.ContactList(name="Not this time")
    db.add(lst)
    db.flush()
    db.add(m.ContactListMember(list_id=lst.id, contact_id=people["listed"].id))
    e, e2 = event(db, "One"), event(db, "Two")
    db.add(m.Invitation(event_id=e.id, contact_id=people["invited"].id))
    db.add(m.Invitation(event_id=e2.id, contact_id=people["came"].id, attended=True))
    db.commit()

    seg = Segment(
        subscribers=True,
        contacts=True,
        exclude_list_ids=(lst.id,),
        exclude_invited_event_ids=(e.id,),
        exclude_attended_event_ids=(e2.id,),
        exclude_organisation_ids=(skip_org.id,),
        exclude_emails=("typed@example.org",),
    )
    res = audience.resolve(db, seg)
    assert emails(res) == {"keep@example.org", "subkeep@example.org"}
    assert res.excluded == {audience.EXCLUDED: 5}


def test_one_email_per_address_as_a_subscriber(db: Any) -> None:
    org = f.organisation(db, "Org")
    c = f.contact(db, "Both", "both@example.org", organisation=org)
    f.contact(db, "Only Contact", "contact@example.org", organisation=org)
    s = sub(db, "both@example.org")
    pending = sub(db, "contact@example.org", status=S.PENDING)
    db.commit()
    res = audience.resolve(db, Segment(subscribers=True, contacts=True))
    by = {r.email: r for r in res.recipients}
    assert len(res.recipients) == 2
    assert (by["both@example.org"].part, by["both@example.org"].subscription_id) == ("subscribers", s.id)
    assert by["both@example.org"].contact_id == c.id
    # Not confirmed as a subscriber, but a contact at an organisation: one email, as a contact, not counted as left out.
    assert by["contact@example.org"].part == "contacts" and pending.id
    assert res.included == {"subscribers": 1, "contacts": 1} and res.in_both == 1
    assert res.excluded == {}


def test_segment_json_round_trip_and_form(db: Any) -> None:
    seg = Segment(
        subscribers=True,
        mailing="event_news",
        sub_topic_ids=(1, 3),
        contacts=True,
        org_kinds=("vcse",),
        exclude_emails=("a@example.org",),
    )
    assert Segment.from_json(seg.to_json()) == seg
    assert Segment.from_json({}) == Segment() and Segment().is_empty
    assert Segment.from_json({"subscribers": {"on": True, "mailing": "nonsense", "topics": ["x", "2"]}}) == Segment(
        subscribers=True, sub_topic_ids=(2,)
    )
    form = Segment.from_form(
        {
            "parts": ["subscribers", "contacts"],
            "mailing": "news",
            "org_kinds": "vcse",
            "topics": ["4", "2"],
            "exclude_emails": "B@Example.org, c@example.org",
        }
    )
    assert (form.subscribers, form.contacts, form.org_kinds, form.topic_ids) == (True, True, ("vcse",), (2, 4))
    assert form.exclude_emails == ("b@example.org", "c@example.org")
    assert Segment.from_form(form.form_values()) == form
    with pytest.raises(FieldErrors) as exc:
        Segment.from_form({"mailing": "spam", "exclude_emails": "not-an-address"})
    assert set(exc.value.errors) == {"parts", "mailing", "exclude_emails"}


def test_preview_counts_samples_and_empty(db: Any) -> None:
    org = f.organisation(db, "Org")
    for i in range(30):
        f.contact(db, f"Person {i:02d}", f"p{i}@example.org", organisation=org)
    f.contact(db, "Nobody's", None, organisation=org)
    db.commit()
    p = audience.preview(db, CONTACTS, sample=10)
    assert p.total == 30 and p.included == {"contacts": 30}
    assert len(p.samples["contacts"]) == 10 and p.samples["contacts"][0] == "Person 00"
    assert p.excluded == {audience.NO_EMAIL: 1}
    assert p.sentence() == "30 people would get this campaign; 1 left out."
    empty = audience.preview(db, Segment(contacts=True, org_kinds=("nhs",)))
    assert empty.is_empty and empty.sentence().startswith("Nobody would get this campaign")


# --- statement counts --------------------------------------------------------------------------------------------


def _people(db: Any, n: int, tag: str) -> None:
    org = f.organisation(db, f"Bulk {tag}")
    db.execute(
        insert(m.Subscription),
        [
            {"email": f"s{tag}{i}@example.org", "name": f"S {i}", "mailings": ["news"], "status": S.ACTIVE}
            for i in range(n)
        ],
    )
    db.execute(insert(m.Contact), [{"name": f"C {i}", "email": f"c{tag}{i}@example.org"} for i in range(n)])
    ids = db.scalars(select(m.Contact.id).where(m.Contact.email.like(f"c{tag}%"))).all()
    db.execute(insert(m.Affiliation), [{"contact_id": i, "organisation_id": org.id, "is_primary": True} for i in ids])
    db.commit()


def test_statements_flat_per_thousand(db: Any, count_queries: Any) -> None:
    seg = Segment(subscribers=True, contacts=True)
    sizes = []
    for n, tag in ((100, "a"), (1100, "b")):
        _people(db, n if tag == "a" else n - 100, tag)
        db.expire_all()
        with count_queries() as q:
            res = audience.resolve(db, seg)
        assert len(res.recipients) == 2 * n
        sizes.append((n, q.count))
    (small_n, small), (big_n, big) = sizes
    # exclusions + one statement per part + per 500 addresses: one suppression check each part, two for opt-outs
    assert small <= 3 + 4 * math.ceil(small_n / 500)
    assert big <= 3 + 4 * math.ceil(big_n / 500)
    assert big - small <= 4 * (math.ceil(big_n / 500) - math.ceil(small_n / 500))


# --- the page ----------------------------------------------------------------------------------------------------


def _campaign(db: Any, **kw: Any) -> m.Campaign:
    c = m.Campaign(subject="The MRC call is out", body="Hello", **kw)
    db.add(c)
    db.commit()
    return c


def test_page_saves_the_audience_and_previews_it(admin_client: Any, db: Any) -> None:
    org = f.organisation(db, "Carers Together")
    f.contact(db, "Cara Contact", "cara@example.org", organisation=org)
    f.contact(db, "Ivy Individual", "ivy@example.org")
    sub(db, "sam@example.org", name="Sam Subscriber")
    c = _campaign(db)
    page = admin_client.get(f"/admin/campaigns/{c.id}/audience")
    assert page.status_code == 200
    assert "No audience chosen yet" in page.text
    assert "Legitimate interest" in page.text and "never emailed without their consent" in page.text

    r = post_form(
        admin_client,
        f"/admin/campaigns/{c.id}/audience",
        {"parts": ["subscribers", "contacts"], "mailing": "news"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    saved = db.get(m.Campaign, c.id)
    assert Segment.from_json(saved.audience) == Segment(subscribers=True, contacts=True)
    entry = db.scalar(select(m.AuditEntry).where(m.AuditEntry.entity == "campaign", m.AuditEntry.entity_id == c.id))
    assert entry.action == "changed the audience"
    assert entry.changes["audience"][0] is None
    assert entry.changes["audience"][1] == [
        "Subscribers to News and announcements",
        "Directory contacts at organisations",
    ]

    page = admin_client.get(r.headers["location"])
    assert "2 people would get this campaign; 1 left out." in page.text
    assert "Sam Subscriber" in page.text and "Cara Contact" in page.text
    assert "An individual with no organisation" in page.text and "Ivy Individual" in page.text
    assert "Their consent" in page.text


def test_page_refuses_bad_input_and_a_sent_campaign(admin_client: Any, db: Any) -> None:
    c = _campaign(db)
    r = post_form(admin_client, f"/admin/campaigns/{c.id}/audience", {"exclude_emails": "nope"})
    assert r.status_code == 422
    assert "Choose who gets this campaign" in r.text and "These are not email addresses" in r.text
    sent = _campaign(db, status=m.CampaignStatus.SENT, audience=Segment(contacts=True).to_json())
    r = post_form(admin_client, f"/admin/campaigns/{sent.id}/audience", {"parts": "subscribers"})
    assert r.status_code == 409 and "can no longer be changed" in r.text
    db.expire_all()
    assert Segment.from_json(db.get(m.Campaign, sent.id).audience) == Segment(contacts=True)
    assert admin_client.get("/admin/campaigns/999999/audience").status_code == 404


def test_page_says_when_nobody_matches(admin_client: Any, db: Any) -> None:
    c = _campaign(db, audience=Segment(contacts=True, org_kinds=("nhs",)).to_json())
    page = admin_client.get(f"/admin/campaigns/{c.id}/audience")
    assert "Nobody would get this campaign" in page.text


def test_page_is_for_admins(client: Any, db: Any, settings: Any) -> None:
    from tests.conftest import sign_in_as

    c = _campaign(db)
    sign_in_as(client, db, settings, "editor@example.org", m.Role.EDITOR)
    assert client.get(f"/admin/campaigns/{c.id}/audience", follow_redirects=False).status_code in {401, 403, 303}
