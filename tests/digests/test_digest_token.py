"""Issue 15 point 5: a digest signs ONE token for all its links, and every link (old or new) still works.

The digest's unsubscribe, "unsubscribe from everything", preferences, List-Unsubscribe and "not relevant" links
all carry ``Signer.digest_token``; the routes read it as their own purpose's token. Links issued before (one
itsdangerous token per purpose) keep working.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from crm import models as m
from crm.db import create_session_factory
from crm.digests import engine, periods
from crm.domains import EXTENSIONS
from crm.mailing import compliance
from crm.mailing.dispatch import drain
from crm.mailing.transports.base import SendOutcome, SendResult
from crm.tokens import Signer, TokenError
from tests import factories
from tests.digests import helpers as h

PERIOD = periods.parse(h.WEEK)


class Capture:
    name = "capture"

    def __init__(self) -> None:
        self.sent = []

    def send_many(self, emails):
        self.sent.extend(emails)
        return [SendResult(SendOutcome.SENT, provider_message_id=f"x{e.outbox_id}") for e in emails]


def _digest_for(db, settings, email: str, mailings=("funding_digest", "event_news")):
    ts = h.topics(db)
    f = factories.funder(db)
    sub = h.subscription(db, email, topic_ids=(ts[0].id,), mailings=mailings)
    call = h.call(db, f, topic_ids=(ts[0].id,))
    h.event(db)
    db.commit()
    engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW)
    transport = Capture()
    drain(
        create_session_factory(db.get_bind()), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers
    )
    db.expire_all()
    (mail,) = transport.sent
    return sub, call, mail


def _one_click(app, path: str):
    with TestClient(app, base_url="http://testserver.local") as fresh:  # no cookies, as a mail provider posts
        return fresh.post(path, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "text/plain"})


def test_every_link_of_a_digest_carries_one_token(app, db, settings) -> None:
    sub, _call, mail = _digest_for(db, settings, "one@example.org")
    token = app.state.signer.digest_token(sub.id, sub.email)
    for part in (mail.text, mail.html):
        found = set(re.findall(r"/(?:u|preferences|digests/hide)/([A-Za-z0-9_.~-]+)", part))
        assert {t.removesuffix("~all") for t in found} == {token}, found
        assert f"/u/{token}~all" in part and f"/preferences/{token}" in part and f"/digests/hide/{token}/" in part
    assert mail.headers["List-Unsubscribe"] == f"<{settings.base_url.rstrip('/')}/u/{token}>" or mail.headers[
        "List-Unsubscribe"
    ].startswith(f"<{settings.base_url.rstrip('/')}/u/{token}>, <mailto:")


def test_the_digest_token_stops_the_digest_opens_preferences_and_hides_an_item(app, client, db, settings) -> None:
    sub, call, _mail = _digest_for(db, settings, "links@example.org")
    token = app.state.signer.digest_token(sub.id, sub.email)
    prefs = client.get(f"/preferences/{token}")
    assert prefs.status_code == 200 and "links@example.org" in prefs.text
    hide = client.get(f"/digests/hide/{token}/call-{call.id}")
    assert hide.status_code == 200 and call.title in hide.text
    done = _one_click(app, f"/u/{token}")
    assert done.status_code == 200 and "the Roundtable digest" in done.text
    db.expire_all()
    assert db.get(m.Subscription, sub.id).status == m.SubscriptionStatus.UNSUBSCRIBED
    assert db.scalar(select(func.count()).select_from(m.Suppression)) == 0  # the digest stopped, not everything


def test_the_everything_link_unsubscribes_from_everything(app, db, settings) -> None:
    sub, _call, mail = _digest_for(db, settings, "all@example.org", mailings=("funding_digest",))
    path = re.search(r"/u/[A-Za-z0-9_.-]+~all", mail.text).group(0)
    assert _one_click(app, path).status_code == 200
    db.expire_all()
    assert db.get(m.Subscription, sub.id).status == m.SubscriptionStatus.UNSUBSCRIBED
    assert db.scalar(select(m.Suppression.address)) == sub.email  # everything: on the suppression list


def test_links_issued_before_one_token_per_digest_keep_working(app, client, db, settings) -> None:
    ts = h.topics(db)
    sub = h.subscription(db, "before@example.org", topic_ids=(ts[0].id,))
    call = h.call(db, factories.funder(db), "Old link call", topic_ids=(ts[0].id,))
    db.commit()
    signer = app.state.signer
    old_hide = signer.sign("not-relevant", {"s": sub.id})
    old_prefs = compliance.preferences_token(signer, sub.email)
    assert client.get(f"/digests/hide/{old_hide}/call-{call.id}").status_code == 200
    assert client.get(f"/preferences/{old_prefs}").status_code == 200
    old_unsub = compliance.unsubscribe_token(signer, sub.email, compliance.DIGEST_STREAM)
    assert _one_click(app, f"/u/{old_unsub}").status_code == 200
    db.expire_all()
    assert not set(db.get(m.Subscription, sub.id).mailings) & compliance.DIGEST_MAILINGS


def test_a_tampered_or_foreign_digest_token_is_refused(app, client, db, settings) -> None:
    signer: Signer = app.state.signer
    token = signer.digest_token(42, "Someone@Example.org")
    assert signer.verify("unsubscribe", token) == {"e": "someone@example.org", "m": "digest"}
    assert signer.verify("unsubscribe", token + "~all") == {"e": "someone@example.org", "m": None}
    assert signer.verify("preferences", token) == {"e": "someone@example.org"}
    assert signer.verify("not-relevant", token) == {"s": 42}
    body, _, mac = token.partition(".")
    other_body = signer.digest_token(43, "someone@example.org").partition(".")[0]
    for bad in (f"{other_body}.{mac}", token[:-2], token + "x", "é" + token, f"{body}.", "~all"):
        with pytest.raises(TokenError):
            signer.verify("unsubscribe", bad)
    for purpose in ("sign-in", "rsvp", "confirm-subscription", "waitlist-offer"):
        with pytest.raises(TokenError):
            signer.verify(purpose, token)
    with pytest.raises(TokenError):
        signer.verify("preferences", token + "~all")  # "~all" only widens an unsubscribe
    foreign = Signer(
        type(settings)(**{**{f: getattr(settings, f) for f in settings.__slots__}, "secret_keys": ("x" * 40,)})
    )
    with pytest.raises(TokenError):
        signer.verify("unsubscribe", foreign.digest_token(42, "someone@example.org"))
    assert client.post(f"/u/{token[:-3]}", content=b"List-Unsubscribe=One-Click").status_code == 400


def test_a_rotated_key_still_verifies_digest_tokens(settings) -> None:
    fields = {f: getattr(settings, f) for f in settings.__slots__}
    old = Signer(type(settings)(**{**fields, "secret_keys": ("old-" + "k" * 40,)}))
    rotated = Signer(type(settings)(**{**fields, "secret_keys": ("new-" + "k" * 40, "old-" + "k" * 40)}))
    assert rotated.verify("not-relevant", old.digest_token(7, "a@example.org")) == {"s": 7}


def _claimed_rows(db):
    """The claimed rows as the dispatcher hands them over: light Core rows of outbox columns, not ORM objects."""
    t = m.OutboxMessage.__table__
    return db.execute(
        select(t.c.id, t.c.context, t.c.recipient, t.c.recipient_name, t.c.subscription_id, t.c.mailing)
    ).all()


def test_claims_render_from_core_rows_with_one_renderer_and_an_edited_item_renders_again(db, settings, monkeypatch):
    from jinja2 import Environment

    from crm.digests import render

    ts = h.topics(db)
    sub = h.subscription(db, "core@example.org", topic_ids=(ts[0].id,))
    call = h.call(db, factories.funder(db), "Original title", topic_ids=(ts[0].id,))
    db.commit()
    engine.run_period(create_session_factory(db.get_bind()), settings, PERIOD, now=h.NOW)
    monkeypatch.setattr(render, "_RENDERERS", {})
    compiled = []
    real_compile = Environment.compile
    monkeypatch.setattr(Environment, "compile", lambda env, *a, **kw: compiled.append(1) or real_compile(env, *a, **kw))
    (first,) = render.render_claimed(db, _claimed_rows(db), settings, h.NOW).values()
    assert "Original title" in first[0].text and first[0].subject
    assert compiled  # the first claim of the process compiles the templates
    compiled.clear()
    call.title = "Edited title"
    db.commit()
    (second,) = render.render_claimed(db, _claimed_rows(db), settings, h.NOW).values()
    assert compiled == []  # later claims reuse the process's renderer: nothing compiled again
    assert "Edited title" in second[0].text and "Original title" not in second[0].text + second[0].html
    assert second[0].html.count(sub.email) == 0  # the address only appears inside the signed token
    assert len(render._RENDERERS) == 1


def test_links_are_escaped_in_html_when_the_base_url_needs_it(db, settings) -> None:
    import dataclasses

    odd = dataclasses.replace(settings, base_url="https://example.org/crm?a=1&b=2")
    sub, _call, mail = _digest_for(db, odd, "amp@example.org")
    token = Signer(odd).digest_token(sub.id, sub.email)
    assert f"https://example.org/crm?a=1&amp;b=2/u/{token}" in mail.html
    assert "?a=1&b=2/u/" not in mail.html and f"https://example.org/crm?a=1&b=2/u/{token}" in mail.text
