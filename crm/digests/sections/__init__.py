"""The digest's sections, in the order the email shows them. A new section is one module and one line here.

``SELECTION_ORDER`` is the order items are picked in: "closing soon" first, so a call closing within three
weeks appears there and not again under "new".
"""

from __future__ import annotations

from crm.digests.sections.base import Catalogue, Section, SubscriberView
from crm.digests.sections.events import UpcomingEvents
from crm.digests.sections.funding import ClosingSoon, NewCalls
from crm.digests.sections.internships import OpenInternships
from crm.digests.sections.news import News

# News (the fellow's campaigns published as news, issue 16) comes last: a digest's outbox row keeps naming its
# first section's mailing (``primary_mailing``) as before.
SECTIONS: tuple[Section, ...] = (NewCalls(), ClosingSoon(), UpcomingEvents(), OpenInternships(), News())
SELECTION_ORDER: tuple[Section, ...] = (SECTIONS[1], SECTIONS[0], SECTIONS[2], SECTIONS[3], SECTIONS[4])
BY_KEY = {s.key: s for s in SECTIONS}
DIGEST_MAILINGS = frozenset(s.mailing for s in SECTIONS)

__all__ = ["BY_KEY", "DIGEST_MAILINGS", "SECTIONS", "SELECTION_ORDER", "Catalogue", "Section", "SubscriberView"]
