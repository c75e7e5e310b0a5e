"""A digest looks like one email: every title link in the brand colour, whatever section it sits in."""

from __future__ import annotations

import datetime as dt
import re

from crm.domains import EXTENSIONS
from crm.mailing.dispatch import drain
from tests import factories
from tests.digests import helpers as h
from tests.digests.test_digests import Capture, factory, run
from tests.internships.helpers import make_internship

BRAND = "#1d5c4a"


def test_links_share_one_brand_colour_across_sections(db, settings) -> None:
    ts = h.topics(db)
    h.call(db, factories.funder(db, "Invented Trust"), "Peer research fund", topic_ids=(ts[0].id,))
    h.event(db, "Winter meet-up")
    host = factories.organisation(db, "Invented Host")
    placement = make_internship(db, host, title="Remote placement", topics=(ts[0].name,))
    placement.published_at = h.NOW - dt.timedelta(days=5)
    h.subscription(
        db, "sam@example.org", topic_ids=(ts[0].id,), mailings=("funding_digest", "event_news", "internship_alerts")
    )
    run(db, settings)
    transport = Capture()
    drain(factory(db), transport, settings, now=h.NOW, renderers=EXTENSIONS.deferred_renderers)
    html = transport.sent[0].html
    assert "Peer research fund" in html and "Winter meet-up" in html and "Remote placement" in html
    # The colour every link takes unless it says otherwise, in <style> and for clients that drop it, <body link>.
    assert "<style>a{color:#1d5c4a;}</style>" in html and f'<body link="{BRAND}"' in html
    # No title link says otherwise: the only other link colours are the muted "not relevant" links.
    titles = re.findall(
        r'<a href="[^"]+"(?: style="([^"]*)")?>(?:<b>)?(Peer research fund|Winter meet-up|Remote placement)', html
    )
    assert len(titles) == 3
    assert all(style == "" or f"color:{BRAND}" in style for style, _ in titles), titles
    # The internship's "not relevant" link sits inside its card, so it reads as that placement's.
    card = html[html.index("Remote placement") :]
    assert card.index("Not relevant to me") < card.index("</table>")
