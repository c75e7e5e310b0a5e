"""The timeline query: every source in plain words, newest first, filtered by kind, keyset pages both ways, and a
statement count that does not grow with the page."""

from __future__ import annotations

import datetime as dt

from crm import models as m
from crm.timeline.query import Owner, decode_cursor, timeline
from tests import factories
from tests.timeline.helpers import at, email, every_source, fellow

CONTACT_LABELS = [
    "Note",
    "Task",
    "Edited",
    "Partnership meeting",
    "Registered interest in an internship",
    "Attended",
    "Answered yes",
    "Invited to an event",
    "Subscribed",
    "Email sent",
]


def _setup(db):
    org = factories.organisation(db, "Mind in Camden")
    person = factories.contact(db, "Jo Bloggs", "jo@example.org", organisation=org)
    user = fellow(db)
    made = every_source(db, person, org, user)
    db.commit()
    return person, org, user, made


def test_every_source_appears_with_its_plain_label_newest_first(db):
    person, _org, _, made = _setup(db)
    page = timeline(db, Owner(contact_id=person.id, contact_email=person.email))
    assert [i.label for i in page.items] == CONTACT_LABELS
    by_label = {i.label: i for i in page.items}
    assert by_label["Email sent"].title.startswith("Your funding digest")
    assert by_label["Email sent"].lines == ["Delivered", "Opened", "Clicked a link"]
    assert by_label["Edited"].lines == ["Job title: set to Researcher"]
    assert by_label["Task"].task.owner_name == "Fellow"
    assert by_label["Partnership meeting"].link_id == made["partnership"].id
    assert page.next_cursor is None and page.prev_cursor is None


def test_organisation_timeline_gathers_its_people_and_its_own_records(db):
    _person, org, _, _ = _setup(db)
    page = timeline(db, Owner(organisation_id=org.id))
    labels = [i.label for i in page.items]
    assert labels == [
        "Note",
        "Task",
        "Imported",
        "Partnership meeting",
        "Registered interest in an internship",
        "Attended",
        "Answered yes",
        "Invited to an event",
        "Subscribed",
        "Email sent",
    ]
    assert next(i.title for i in page.items if i.kind == "note").startswith("Office moves")
    assert {i.who for i in page.items if i.kind in {"email", "invitation"}} == {"Jo Bloggs"}


def test_filter_by_kind(db):
    person, _, _, _ = _setup(db)
    owner = Owner(contact_id=person.id, contact_email=person.email)
    assert [i.label for i in timeline(db, owner, kinds=["email", "note"]).items] == ["Note", "Email sent"]
    assert [i.kind for i in timeline(db, owner, kinds=["rsvp"]).items] == ["rsvp"]
    assert len(timeline(db, owner, kinds=["nonsense"]).items) == 10  # an unknown kind filters nothing out


def test_keyset_pages_forwards_and_backwards_over_ties(db):
    person, org, user, _ = _setup(db)
    every_source(db, person, org, user, base=0)  # a second set at the very same times: ties on occurred_at
    every_source(db, person, org, user, base=30)
    # Different kinds at one instant, so page boundaries fall inside a tie across kinds.
    for n in range(4):
        email(db, person, 25, subject=f"Same minute {n}")
        db.add(m.TimelineNote(contact_id=person.id, body=f"Same minute note {n}", author="Fellow", created_at=at(25)))
        db.add(
            m.TimelineTask(
                contact_id=person.id,
                title=f"Same minute task {n}",
                due_date=dt.date(2026, 12, 1),
                owner_id=user.id,
                created_at=at(25),
            )
        )
    db.commit()
    owner = Owner(contact_id=person.id, contact_email=person.email)
    everything = [(i.kind, i.id) for i in timeline(db, owner, page_size=100).items]
    assert len(everything) == 42
    pages, cursor = [], ""
    while True:
        page = timeline(db, owner, cursor=cursor, page_size=7)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [(i.kind, i.id) for p in pages for i in p.items] == everything
    assert pages[0].prev_cursor is None and all(p.prev_cursor for p in pages[1:])
    # Backwards from the last page gives the same pages in reverse.
    back, page = [], pages[-1]
    while page.prev_cursor:
        page = timeline(db, owner, cursor=page.prev_cursor, page_size=7)
        back.append([(i.kind, i.id) for i in page.items])
    assert back == [[(i.kind, i.id) for i in p.items] for p in reversed(pages[:-1])]
    assert decode_cursor("garbage") is None
    assert [(i.kind, i.id) for i in timeline(db, owner, cursor="garbage", page_size=7).items] == everything[:7]


def test_statement_count_is_the_same_for_5_and_50_items(db, count_queries):
    """One statement for the page, then one per kind of detail on it (delivery reports, audit changes, tasks):
    never one per item."""
    person, org, user, _ = _setup(db)
    for base in range(20, 400, 20):
        every_source(db, person, org, user, base=base)
    db.commit()
    owner = Owner(contact_id=person.id, contact_email=person.email)
    counts = {}
    for size, kinds in ((5, ["email", "edit", "task"]), (50, ["email", "edit", "task"]), (50, [])):
        with count_queries() as q:
            page = timeline(db, owner, kinds=kinds, page_size=size)
        assert len(page.items) == size and {i.kind for i in page.items} >= {"email", "edit", "task"}
        counts[(size, bool(kinds))] = q.count
    print("timeline statements per page", counts)
    assert set(counts.values()) == {4}, counts


def test_merging_two_contacts_keeps_both_notes_and_tasks_on_the_survivor(db):
    from crm.directory import merge
    from crm.domains import EXTENSIONS

    keep = factories.contact(db, "Jo Bloggs", "jo@example.org")
    drop = factories.contact(db, "Jo Bloggs (old)", "jo.old@example.org")
    user = fellow(db)
    db.add_all(
        [
            m.TimelineNote(contact_id=keep.id, body="Kept note", author="Fellow"),
            m.TimelineNote(contact_id=drop.id, body="Note on the duplicate", author="Fellow"),
            m.TimelineTask(
                contact_id=drop.id, title="Task on the duplicate", due_date=dt.date(2026, 12, 1), owner_id=user.id
            ),
        ]
    )
    db.commit()
    merge.merge_contacts(db, EXTENSIONS, None, keep.id, drop.id)
    db.commit()
    page = timeline(db, Owner(contact_id=keep.id, contact_email=keep.email), kinds=["note", "task"])
    assert sorted(i.title for i in page.items) == ["Kept note", "Note on the duplicate", "Task on the duplicate"]


def test_an_invitation_not_yet_sent_is_not_on_the_timeline_and_a_walk_in_says_so(db):
    person, _, _, made = _setup(db)
    other = m.Event(uid="evt-x@x", title="Later event", slug="later", starts_at=at(500), ends_at=at(560))
    walk = m.Event(uid="evt-w@x", title="Open day", slug="open-day", starts_at=at(600), ends_at=at(660))
    db.add_all([other, walk])
    db.flush()
    db.add(m.Invitation(event_id=other.id, contact_id=person.id))  # in the audience, not yet sent
    db.add(m.Invitation(event_id=walk.id, contact_id=person.id, source="walk-in", invited_at=at(610), attended=True))
    db.commit()
    items = timeline(db, Owner(contact_id=person.id, contact_email=person.email), kinds=["invitation"]).items
    assert [(i.label, i.title) for i in items] == [
        ("Came to an event without an invitation", "Open day"),
        ("Invited to an event", made["event"].title),
    ]
