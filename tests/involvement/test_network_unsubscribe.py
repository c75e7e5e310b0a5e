"""After one click stops the involvement emails, the page shows the way back where that mailing is offered (the
network), not the subscribe form, which does not offer it."""

from __future__ import annotations

import re

from crm import models as m
from crm.involvement import network
from crm.mailing.compliance import unsubscribe_token
from tests.involvement.network_helpers import join_and_confirm


def _one_click(client, email: str, stream: str) -> str:
    token = unsubscribe_token(client.app.state.signer, email, stream)
    r = client.post(
        f"/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    return r.text


def _you_link(page: str) -> str:
    found = re.search(r'href="https?://[^/"]+(/involvement/network/you/[^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_member_is_sent_to_their_own_network_page_to_start_the_emails_again(client, db) -> None:
    join_and_confirm(client, db, "quiet.member@example.org")
    page = _one_click(client, "quiet.member@example.org", "involvement")
    assert "You will not receive <strong>Involvement opportunities</strong> emails any more." in page
    assert 'href="/subscribe"' not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "You are still a member of the lived experience network" in page
    you = _you_link(page)
    mine = client.get(you)  # their own page, where the emails start again
    assert mine.status_code == 200 and "Start the emails again" in mine.text
    db.expire_all()
    assert not network.alerts_on(db, "quiet.member@example.org")
    assert network.by_email(db, "quiet.member@example.org").status == m.NetworkMemberStatus.ACTIVE


def test_someone_no_longer_in_the_network_is_sent_to_the_network_to_join(client, db) -> None:
    db.add(
        m.Subscription(
            email="left@example.org",
            status=m.SubscriptionStatus.ACTIVE,
            mailings=["involvement"],
            topics=[],
            regions=[],
        )
    )
    db.commit()
    page = _one_click(client, "left@example.org", "involvement")
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert 'href="/involvement/network"' in main and 'href="/subscribe"' not in main
    assert "still a member" not in main and "/involvement/network/you/" not in main


def test_other_mailings_still_offer_the_subscribe_form(client, db) -> None:
    db.add(
        m.Subscription(
            email="reader@example.org", status=m.SubscriptionStatus.ACTIVE, mailings=["news"], topics=[], regions=[]
        )
    )
    db.commit()
    main = _one_click(client, "reader@example.org", "news").split("<main", 1)[1].split("</main>", 1)[0]
    assert 'href="/subscribe"' in main and "/involvement/network" not in main
