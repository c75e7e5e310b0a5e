"""Every page the browser checks (accessibility, reflow, console), in one place: a new page is one line.

``url`` may hold ``{placeholders}`` filled from the seeded data (``seed.PLACEHOLDERS``). ``role`` is who looks
at it (``None``: a member of the public). A listed page that answers 404 fails the check (every capability has
landed, so a 404 means a broken link or a removed page); ``discovered_pages()`` adds every parameterless GET page
of the route table that is not listed, so a new page is checked even before someone lists it here.
"""

from __future__ import annotations

import dataclasses

from crm import models as m


@dataclasses.dataclass(frozen=True)
class Page:
    url: str
    role: m.Role | None = None
    status: int = 200  # what the page should answer (error pages are pages people read too)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.role.value if self.role else 'public'}:{self.url}"


PUBLIC = [
    Page("/"),
    Page("/sign-in"),
    Page("/sign-in?next=/admin/mail&signed_out=1"),
    Page("/sign-in/verify?token=not-a-valid-token", status=400, note="a broken or expired sign-in link"),
    Page("/organisations"),
    Page("/organisations?q=mental"),
    Page("/organisations/{organisation_slug}"),
    Page("/organisations/suggest"),
    Page("/funding-calls"),
    Page("/funding-calls/{funding_call_slug}"),
    Page("/events"),
    Page("/events/{event_slug}"),
    Page("/internships"),
    Page("/internships/{internship_slug}"),
    Page("/internships/offer"),
    Page("/involvement/{involvement_slug}"),
    Page("/involvement/{closed_involvement_slug}", note="a closed opportunity's page stays and says so"),
    Page("/involvement/manage?token={involvement_manage_token}", note="a public poster's page: their interest"),
    Page("/involvement/answer?token={involvement_answer_token}", note="a group's answer to a consultation"),
    Page("/involvement/network/you/{network_member_token}", note="a network member's own page"),
    Page("/involvement/network/leave/{network_member_token}"),
    Page("/involvement/network/interested/{network_interested_token}", note="'yes, I'm interested' from an alert"),
    Page("/involvement/manage?token=not-a-valid-token", status=400, note="a broken manage link"),
    Page("/involvement/answer?token=not-a-valid-token", status=400, note="a broken answer link"),
    Page("/involvement/network/you/not-a-valid-token", status=400, note="a broken member link"),
    Page("/news"),
    Page("/news?q=zzz-nothing", note="the news archive's empty state"),
    Page("/news/{news_slug}"),
    Page("/subscribe"),
    Page("/privacy"),
    Page("/this-page-does-not-exist", status=404, note="the 404 page itself"),
]

ADMIN = [
    Page("/admin", m.Role.ADMIN),
    Page("/admin", m.Role.VIEWER),
    Page("/admin/mail", m.Role.ADMIN),
    Page("/admin/mail/{message_id}", m.Role.ADMIN),
    Page("/admin/mail?kind=zzz-none", m.Role.ADMIN, note="the outbox filtered to nothing (empty state)"),
    Page("/admin/contact-lists/{contact_list_id}", m.Role.ADMIN, note="hidden 'Remove <name>' labels in a table"),
    Page("/admin/digests/preview/{subscription_id}", m.Role.ADMIN, note="a long address as the heading"),
    Page("/admin/organisations", m.Role.ADMIN),
    Page("/admin/organisations/new", m.Role.ADMIN),
    Page("/admin/organisations/{organisation_id}", m.Role.ADMIN),
    Page("/admin/organisations/{organisation_id}/edit", m.Role.ADMIN),
    Page("/admin/our-organisation", m.Role.EDITOR, note="an editor's own directory entry"),
    Page("/admin/our-organisation", m.Role.ADMIN, note="an account without an organisation"),
    Page("/admin/contacts", m.Role.ADMIN),
    Page("/admin/contacts/{contact_id}", m.Role.ADMIN),
    Page("/admin/review", m.Role.ADMIN),
    Page("/admin/funding-calls", m.Role.ADMIN),
    Page("/admin/funding-calls/new", m.Role.ADMIN),
    Page("/admin/funding-calls/{funding_call_id}", m.Role.ADMIN),
    Page("/admin/partnerships", m.Role.ADMIN),
    Page("/admin/partnerships/{partnership_id}", m.Role.ADMIN),
    Page("/admin/events", m.Role.ADMIN),
    Page("/admin/events/new", m.Role.ADMIN),
    Page("/admin/events/{event_id}", m.Role.ADMIN),
    Page("/admin/events/{event_id}/check-in", m.Role.ADMIN, note="the door list on the day"),
    Page("/admin/internships", m.Role.ADMIN),
    Page("/admin/internships/{internship_id}", m.Role.ADMIN),
    Page("/admin/involvement/{involvement_id}", m.Role.ADMIN),
    Page("/admin/involvement/{involvement_id}/edit", m.Role.ADMIN),
    Page("/admin/involvement/{involvement_id}/matches", m.Role.ADMIN),
    Page("/admin/involvement/network/{network_member_id}", m.Role.ADMIN, note="special-category data, fellow only"),
    Page("/admin/involvement/consultations/{consultation_id}", m.Role.ADMIN),
    Page("/admin/involvement/records/{involvement_record_id}/edit", m.Role.ADMIN),
    Page("/admin/subscribers", m.Role.ADMIN),
    Page("/admin/digests", m.Role.ADMIN),
    Page("/admin/privacy", m.Role.ADMIN),
    Page("/admin/privacy/subject?contact_id={contact_id}", m.Role.ADMIN),
    Page("/admin/privacy/erase?contact_id={contact_id}", m.Role.ADMIN),
]

PAGES = PUBLIC + ADMIN

# GET routes that are not pages a person reads (machine formats, framed previews, file downloads).
NOT_PAGES_PREFIXES = ("/api/", "/schema", "/static", "/health", "/webhooks/")
NOT_PAGES = {"/admin/mail/{message_id}/html", "/sign-out"}
NOT_PAGES_SUFFIXES = (".csv", ".xml", ".ics", ".json", ".txt", ".yaml")


def discovered_pages(app: object) -> list[Page]:
    """Parameterless GET routes in the app's route table that ``PAGES`` does not list yet."""
    listed = {p.url.split("?", 1)[0] for p in PAGES}
    found: list[Page] = []
    for route in app.routes:  # type: ignore[attr-defined]
        path = route.path_format
        if (
            route.path_parameters
            or path in listed
            or path in NOT_PAGES
            or path.startswith(NOT_PAGES_PREFIXES)
            or path.endswith(NOT_PAGES_SUFFIXES)
        ):
            continue
        if "GET" not in getattr(route, "methods", ()):
            continue
        # Discovered pages are opened without the query a real visit would carry, so 4xx is acceptable.
        found.append(Page(path, m.Role.ADMIN if path.startswith("/admin") else None, status=0, note="discovered"))
    return sorted(found, key=lambda p: p.url)
