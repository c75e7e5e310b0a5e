"""The lived experience network: joining with explicit consent (its wording stored), double opt-in that adds the
involvement mailing to the subscription with the consent log, a member's own page, and leaving (erased)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from crm import models as m
from crm.involvement import network
from crm.involvement.network_jobs import forget_unconfirmed
from crm.mailing import subscriptions as subs
from crm.mailing.consent import How
from crm.mailing.suppression import suppress
from crm.runtime import Runtime
from tests import factories
from tests.conftest import post_form
from tests.involvement.network_helpers import join_and_confirm, join_form, link, outbox, path_of


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_the_page_says_what_we_keep_who_sees_it_and_the_consent(client) -> None:
    r = client.get("/involvement/network")
    assert r.status_code == 200
    text = r.text
    assert "What we keep, and why" in text and "Who sees it" in text and "Only the Roundtable fellow" in text
    assert network.CONSENT_WORDING in text
    assert 'name="consent_version" value="network-2026-12-v1"' in text
    for label in ("Vouchers", "As a volunteer (expenses only)", "Access needs", "Your experience and skills"):
        assert label in text


def test_bad_input_is_refused_field_by_field_and_nothing_is_kept(client, db) -> None:
    r = post_form(
        client,
        "/involvement/network",
        join_form("not-an-email", name="", consent="", topics=["999999"], kinds=["astronaut"], payment=["gold"]),
    )
    assert r.status_code == 422
    for message in (
        "Your name is required.",
        "Tick the box to say you agree",
        "Choose from the options listed.",
    ):
        assert message in r.text
    assert 'href="#f-email"' in r.text and 'href="#f-topics"' in r.text and 'href="#f-kinds"' in r.text
    assert _count(db, m.NetworkMember) == 0 and _count(db, m.OutboxMessage) == 0


def test_an_old_consent_wording_must_be_read_again(client, db) -> None:
    r = post_form(client, "/involvement/network", join_form("a@example.org", consent_version="network-2020-v0"))
    assert r.status_code == 422 and "The consent wording has changed" in r.text
    assert _count(db, m.NetworkMember) == 0


def test_join_keeps_the_wording_and_only_a_pending_member_until_confirmed(client, db) -> None:
    topic = factories.topic(db, "Psychosis")
    region = factories.region_id(db, "UKI")
    db.commit()
    form = join_form(
        "Robin@Example.org",
        topics=[str(topic.id)],
        regions=[str(region)],
        kinds=["advisory-group", "commentary"],
        payment=["vouchers", "volunteer"],
        online="no",
        access_needs="Step-free access, please.",
        experience="Ten years of using services.",
    )
    r = post_form(client, "/involvement/network", form)
    assert r.status_code == 200 and "Check your email" in r.text and "robin@example.org" in r.text
    member = network.by_email(db, "robin@example.org")
    assert member.status == m.NetworkMemberStatus.PENDING
    assert member.consent_wording == network.CONSENT_WORDING and member.consented_at is not None
    assert member.kinds == ["advisory-group", "commentary"] and member.payment_preferences == ["vouchers", "volunteer"]
    assert member.online_ok is False and member.access_needs == "Step-free access, please."
    topics, regions = network.links_of(db, [member.id])
    assert topics[member.id] == {topic.id} and regions[member.id] == {region}
    # Nothing subscribed yet, and the confirmation email is transactional (no unsubscribe headers).
    assert _count(db, m.Subscription) == 0
    (mail,) = outbox(db, "involvement_network_confirm")
    assert not mail.bulk and "List-Unsubscribe" not in (mail.headers or {})
    confirm = link(mail, "/involvement/network/confirm/")
    page = client.get(confirm)  # a mail scanner's GET changes nothing
    assert page.status_code == 200 and "Confirm and join" in page.text
    assert page.headers["cache-control"] == "no-store"
    db.expire_all()
    assert network.by_email(db, "robin@example.org").status == m.NetworkMemberStatus.PENDING
    done = post_form(client, confirm)
    assert done.status_code == 200 and "You have joined the network" in done.text
    db.expire_all()
    member = network.by_email(db, "robin@example.org")
    assert member.status == m.NetworkMemberStatus.ACTIVE and member.confirmed_at is not None
    sub = db.get(m.Subscription, member.subscription_id)
    assert sub.email == "robin@example.org" and sub.status == m.SubscriptionStatus.ACTIVE
    assert sub.mailings == ["involvement"] and sub.consent_version == network.CONSENT_VERSION
    entries = db.scalars(select(m.ConsentEntry).where(m.ConsentEntry.email == sub.email).order_by(m.ConsentEntry.id))
    actions = [
        (e.action, e.subscription_id, e.mechanism, e.consent_version, e.mailings, e.detail.get("consent_wording"))
        for e in entries
    ]
    wording = network.CONSENT_WORDING
    assert actions == [  # the consent when the form was sent, then the confirmation on the subscription
        (m.ConsentAction.SUBSCRIBE, None, "network form", network.CONSENT_VERSION, ["involvement"], wording),
        (
            m.ConsentAction.CONFIRM,
            sub.id,
            "network confirmation link",
            network.CONSENT_VERSION,
            ["involvement"],
            wording,
        ),
    ]
    # Confirming twice is harmless.
    assert post_form(client, confirm).status_code == 200
    assert _count(db, m.ConsentEntry) == 2


def test_confirming_adds_the_mailing_to_an_existing_subscription(client, db) -> None:
    sub = m.Subscription(
        email="both@example.org", status=m.SubscriptionStatus.ACTIVE, mailings=["funding_digest"], topics=[], regions=[]
    )
    db.add(sub)
    db.commit()
    member = join_and_confirm(client, db, "both@example.org")
    db.expire_all()
    sub = db.get(m.Subscription, sub.id)
    assert member.subscription_id == sub.id and sub.mailings == ["funding_digest", "involvement"]
    assert sub.status == m.SubscriptionStatus.ACTIVE


def test_a_pending_subscription_starts_with_the_involvement_mailing_only(client, db) -> None:
    db.add(
        m.Subscription(
            email="half@example.org", status=m.SubscriptionStatus.PENDING, mailings=["news"], topics=[], regions=[]
        )
    )
    db.commit()
    join_and_confirm(client, db, "half@example.org")
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "half@example.org"))
    assert sub.status == m.SubscriptionStatus.ACTIVE and sub.mailings == ["involvement"]


def test_someone_who_unsubscribed_before_can_join_and_the_suppression_is_lifted(client, db) -> None:
    db.add(
        m.Subscription(
            email="back@example.org", status=m.SubscriptionStatus.UNSUBSCRIBED, mailings=[], topics=[], regions=[]
        )
    )
    suppress(db, "back@example.org", "unsubscribed", "test")
    db.commit()
    join_and_confirm(client, db, "back@example.org")
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "back@example.org"))
    assert sub.status == m.SubscriptionStatus.ACTIVE and sub.mailings == ["involvement"]
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "back@example.org"))
    assert row.lifted_at is not None


def test_a_bounced_address_cannot_join(client, db) -> None:
    suppress(db, "gone@example.org", "bounce", "sendgrid")
    db.commit()
    r = post_form(client, "/involvement/network", join_form("gone@example.org"))
    assert r.status_code == 200 and "We cannot email this address" in r.text
    assert _count(db, m.NetworkMember) == 0 and _count(db, m.OutboxMessage) == 0


def test_joining_again_never_changes_a_confirmed_member_and_sends_their_own_link(client, db) -> None:
    member = join_and_confirm(client, db, "twice@example.org", name="First Name")
    r = post_form(client, "/involvement/network", join_form("twice@example.org", name="Someone Else"))
    assert r.status_code == 200 and "Check your email" in r.text  # the same page: nobody learns who is a member
    db.expire_all()
    assert network.by_email(db, "twice@example.org").name == "First Name"
    (mail,) = outbox(db, "involvement_network_you")
    assert link(mail, "/involvement/network/you/") and member.name in mail.text_body


def test_joining_again_while_pending_sends_a_new_link_and_the_old_one_stops(client, db) -> None:
    post_form(client, "/involvement/network", join_form("pending@example.org", name="Old"))
    old = link(outbox(db, "involvement_network_confirm")[-1], "/involvement/network/confirm/")
    post_form(client, "/involvement/network", join_form("pending@example.org", name="New"))
    new = link(outbox(db, "involvement_network_confirm")[-1], "/involvement/network/confirm/")
    assert old != new
    r = post_form(client, old)
    assert r.status_code == 400 and "newer email" in r.text
    assert post_form(client, new).status_code == 200
    db.expire_all()
    assert network.by_email(db, "pending@example.org").name == "New"


def test_a_changed_link_is_a_clear_page_not_an_error(client) -> None:
    for path in ("/involvement/network/confirm/nonsense", "/involvement/network/you/nonsense"):
        r = client.get(path)
        assert r.status_code == 400 and "This link does not work" in r.text


def test_a_member_changes_what_they_shared_with_their_own_link(client, db, settings) -> None:
    topic = factories.topic(db, "Carers")
    db.commit()
    member = join_and_confirm(client, db, "me@example.org", kinds=["speaking"])
    you = path_of(network.manage_url(client.app.state.signer, settings.base_url, member))
    page = client.get(you)
    assert page.status_code == 200 and "me@example.org" in page.text and page.headers["cache-control"] == "no-store"
    assert 'value="speaking" checked' in page.text
    r = post_form(client, you, {"name": "Me Again", "online": "no", "topics": [str(topic.id)], "kinds": ["training"]})
    assert r.status_code == 200 and "Your changes are saved." in r.text
    db.expire_all()
    member = network.by_email(db, "me@example.org")
    assert member.name == "Me Again" and member.kinds == ["training"] and not member.online_ok
    assert network.links_of(db, [member.id])[0][member.id] == {topic.id}
    again = post_form(
        client, you, {"name": "Me Again", "online": "no", "topics": [str(topic.id)], "kinds": ["training"]}
    )
    assert "Nothing changed." in again.text
    bad = post_form(client, you, {"name": "", "online": "maybe"})
    assert bad.status_code == 422 and "Your name is required." in bad.text


def test_leaving_erases_the_member_and_withdraws_the_mailing(client, db, settings) -> None:
    factories.topic(db, "Carers")
    db.commit()
    member = join_and_confirm(client, db, "leaver@example.org", access_needs="Breaks", experience="Lots")
    leave = path_of(network.leave_url(client.app.state.signer, settings.base_url, member))
    page = client.get(leave)
    assert page.status_code == 200 and "Leave and delete my details" in page.text
    db.expire_all()
    assert network.by_email(db, "leaver@example.org") is not None  # the GET changed nothing
    r = post_form(client, leave)
    assert r.status_code == 200 and "You have left the network" in r.text
    db.expire_all()
    assert network.by_email(db, "leaver@example.org") is None
    assert _count(db, m.NetworkMember) == 0
    assert db.scalar(select(func.count()).select_from(m.network_member_topics)) == 0
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "leaver@example.org"))
    assert "involvement" not in sub.mailings
    last = db.scalars(select(m.ConsentEntry).where(m.ConsentEntry.email == sub.email).order_by(m.ConsentEntry.id))
    assert list(last)[-1].mechanism == "left the lived experience network"
    gone = client.get(leave)
    assert gone.status_code == 400 and "membership has ended" in gone.text


def test_a_robot_filling_the_hidden_field_is_told_to_check_its_email_and_nothing_is_kept(client, db) -> None:
    r = post_form(client, "/involvement/network", join_form("robot@example.org", nickname="spam"))
    assert r.status_code == 200 and "Check your email" in r.text
    assert _count(db, m.NetworkMember) == 0 and _count(db, m.OutboxMessage) == 0


def test_joining_is_rate_limited_per_address(client, db) -> None:
    for _ in range(5):
        assert post_form(client, "/involvement/network", join_form("again@example.org")).status_code == 200
    r = post_form(client, "/involvement/network", join_form("again@example.org"))
    assert r.status_code == 429 and "Please try later" in r.text and r.headers["retry-after"] == "3600"


def test_joins_never_confirmed_are_deleted_a_day_after_the_link_stops_working(client, db, settings) -> None:
    topic = factories.topic(db, "Carers")
    db.commit()
    post_form(client, "/involvement/network", join_form("never@example.org", topics=[str(topic.id)]))
    join_and_confirm(client, db, "kept@example.org")
    joined = network.by_email(db, "never@example.org").consented_at
    rt = Runtime(settings)
    try:
        assert forget_unconfirmed(rt, now=joined + dt.timedelta(days=network.CONFIRM_DAYS)) == 0
        assert forget_unconfirmed(rt, now=joined + dt.timedelta(days=network.CONFIRM_DAYS + 1, seconds=1)) == 1
    finally:
        rt.engine.dispose()
    db.expire_all()
    assert network.by_email(db, "never@example.org") is None and network.by_email(db, "kept@example.org") is not None
    assert db.scalar(select(func.count()).select_from(m.network_member_topics)) == 0


def test_a_member_who_stopped_the_emails_can_start_them_again_from_their_page(client, db, settings) -> None:
    member = join_and_confirm(client, db, "restart@example.org")
    you = path_of(network.manage_url(client.app.state.signer, settings.base_url, member))
    assert "Start the emails again" not in client.get(you).text
    # "Unsubscribe from everything": the subscription ends and the address is suppressed for bulk mail.
    subs.unsubscribe(db, "restart@example.org", None, How(mechanism="test"))
    db.commit()
    page = client.get(you)
    assert "Emails about opportunities: <strong>off</strong>" in page.text and "Start the emails again" in page.text
    r = post_form(client, you + "/emails")
    assert r.status_code == 200 and "Your emails about opportunities have started again." in r.text
    db.expire_all()
    assert network.alerts_on(db, "restart@example.org")
    row = db.scalar(select(m.Suppression).where(m.Suppression.address == "restart@example.org"))
    assert row.lifted_at is not None
    last = list(db.scalars(select(m.ConsentEntry).where(m.ConsentEntry.email == "restart@example.org")))[-1]
    assert (last.action, last.mechanism, last.mailings) == (m.ConsentAction.SUBSCRIBE, "network page", ["involvement"])
    assert "Nothing changed." in post_form(client, you + "/emails").text


def test_a_paused_or_bounced_member_is_told_what_to_do_instead(client, db, settings) -> None:
    member = join_and_confirm(client, db, "paused@example.org")
    you = path_of(network.manage_url(client.app.state.signer, settings.base_url, member))
    sub = db.scalar(select(m.Subscription).where(m.Subscription.email == "paused@example.org"))
    sub.status = m.SubscriptionStatus.PAUSED
    db.commit()
    assert network.PAUSED in post_form(client, you + "/emails").text
    sub.status = m.SubscriptionStatus.BOUNCED
    suppress(db, "paused@example.org", "bounce", "sendgrid")
    db.commit()
    assert network.CANNOT_EMAIL in post_form(client, you + "/emails").text
    db.expire_all()
    assert db.get(m.Subscription, sub.id).status == m.SubscriptionStatus.BOUNCED
