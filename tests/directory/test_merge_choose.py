"""Merge that lets the fellow choose (issue 17.5): the other record found by searching, every field compared and
chosen, references moved, both records' values in the audit trail, undo for 30 days, and every bad input answered
with a message (never a 500)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from crm import models as m
from crm.directory import merge
from crm.directory import merge_fields as fields
from crm.directory.contacts import add_affiliation, organisation_contacts
from crm.directory.errors import DirectoryError
from crm.domains import EXTENSIONS
from tests import factories
from tests.conftest import post_form


def _stamp(page: str) -> str:
    found = re.search(r'name="stamp" value="([0-9a-f]+)"', page)
    assert found, "the comparison carries its fingerprint"
    return found.group(1)


def _topic_id(db, slug: str) -> int:
    return db.scalar(select(m.Topic.id).where(m.Topic.slug == slug))


def _pair(db):
    keep = factories.organisation_via_form(db, "Harbour Trust", topics=["carers"], description="Keep text")
    drop = factories.organisation_via_form(
        db, "The Harbour Trust CIO", topics=["psychosis"], website="https://drop.example.org", description="Drop text"
    )
    child = factories.organisation_via_form(db, "Harbour Child", parent=drop.slug)
    p1 = factories.contact_via_form(db, "Pat One", "p1@example.org")
    p2 = factories.contact_via_form(db, "Pat Two", "p2@example.org")
    add_affiliation(db, None, p1, drop, "Chair", True)
    add_affiliation(db, None, p2, keep, "Member", True)
    add_affiliation(db, None, p2, drop, "Trustee", False)  # p2 is on both: that link goes with the dropped record
    db.commit()
    return keep.id, drop.id, child.id, p1.id, p2.id


def test_the_other_record_is_found_by_searching_with_and_without_htmx(admin_client, db):
    keep_id, drop_id, child_id, *_ = _pair(db)
    page = admin_client.get(f"/admin/organisations/{keep_id}")
    assert 'action="/admin/merge/organisations"' in page.text and "organisation number" not in page.text
    found = admin_client.get(f"/admin/merge/organisations?a={keep_id}&q=harbour")
    assert found.status_code == 200 and "<html" in found.text
    assert f"/admin/merge/organisations?a={keep_id}&amp;b={drop_id}" in found.text
    assert f"b={child_id}" in found.text and f'b={keep_id}"' not in found.text  # never itself
    fragment = admin_client.get(f"/admin/merge/organisations?a={keep_id}&q=CIO", headers={"HX-Request": "true"})
    assert (
        "<html" not in fragment.text
        and "The Harbour Trust CIO" in fragment.text
        and "Harbour Child" not in fragment.text
    )
    assert "Nothing matches" in admin_client.get(f"/admin/merge/organisations?a={keep_id}&q=zzz").text
    a = factories.contact_via_form(db, "Sam Smith", "sam@example.org")
    b = factories.contact_via_form(db, "S. Smith", "sam.smith@work.example.org")
    db.commit()
    by_email = admin_client.get(f"/admin/merge/contacts?a={a.id}&q=work.example")
    assert f"b={b.id}" in by_email.text


def test_per_field_choices_are_applied_references_move_and_both_records_are_audited(admin_client, db):
    keep_id, drop_id, child_id, *_ = _pair(db)
    page = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b={drop_id}")
    assert page.status_code == 200 and "Keep text" in page.text and "Drop text" in page.text
    assert 'name="f_topics" value="both" checked' in page.text  # lists are joined unless chosen otherwise
    form = {
        "a": keep_id,
        "b": drop_id,
        "keep": keep_id,
        "stamp": _stamp(page.text),
        "f_name": drop_id,  # the other's name
        "f_description": keep_id,  # this one's description
        "f_website": drop_id,
        "f_topics": keep_id,  # only this one's topics
    }
    r = post_form(admin_client, "/admin/merge/organisations", form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/organisations/{keep_id}?notice=merged"
    db.expire_all()
    kept = db.get(m.Organisation, keep_id)
    assert kept.name == "The Harbour Trust CIO" and kept.description == "Keep text"
    assert kept.website == "https://drop.example.org" and kept.website_domain == "drop.example.org"
    assert kept.slug == "harbour-trust"  # the kept record's address stays
    assert db.get(m.Organisation, drop_id) is None
    topics = set(
        db.scalars(select(m.organisation_topics.c.topic_id).where(m.organisation_topics.c.organisation_id == keep_id))
    )
    assert topics == {_topic_id(db, "carers")}
    assert db.get(m.Organisation, child_id).parent_id == keep_id
    assert {c.name for c in organisation_contacts(db, keep_id)} == {"Pat One", "Pat Two"}
    merged = db.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "merged", m.AuditEntry.entity_id == keep_id))
    assert merged.changes["name"] == ["Harbour Trust", "The Harbour Trust CIO"]
    gone = db.scalar(
        select(m.AuditEntry).where(m.AuditEntry.action == "merged into", m.AuditEntry.entity_id == drop_id)
    )
    assert gone.changes["description"] == ["Drop text", None] and gone.changes["topics"][0] == ["Psychosis"]
    record = db.scalar(select(m.RecordMerge))
    assert record.data["keep_values"]["description"] == "Keep text" and record.data["drop_row"]["slug"]
    shown = admin_client.get(f"/admin/merges/{record.id}")
    assert "Drop text" in shown.text and "Keep text" in shown.text and "Undo this merge" in shown.text
    listed = admin_client.get(f"/admin/merges?kind=organisations&record={keep_id}")
    assert f"/admin/merges/{record.id}" in listed.text


def test_undo_brings_the_record_its_values_and_references_back(admin_client, db):
    keep_id, drop_id, child_id, *_ = _pair(db)
    page = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b={drop_id}")
    form = {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": _stamp(page.text), "f_name": drop_id}
    post_form(admin_client, "/admin/merge/organisations", form, follow_redirects=False)
    record_id = db.scalar(select(m.RecordMerge.id))
    r = post_form(admin_client, f"/admin/merges/{record_id}/undo", {}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    kept, back = db.get(m.Organisation, keep_id), db.get(m.Organisation, drop_id)
    assert kept.name == "Harbour Trust" and kept.description == "Keep text" and kept.website == ""
    assert back is not None and back.name == "The Harbour Trust CIO" and back.slug == "the-harbour-trust-cio"
    assert back.description == "Drop text" and back.website_domain == "drop.example.org"
    link = m.organisation_topics.c
    assert set(db.scalars(select(link.topic_id).where(link.organisation_id == keep_id))) == {_topic_id(db, "carers")}
    assert set(db.scalars(select(link.topic_id).where(link.organisation_id == drop_id))) == {_topic_id(db, "psychosis")}
    assert db.get(m.Organisation, child_id).parent_id == drop_id
    assert {c.name for c in organisation_contacts(db, drop_id)} == {"Pat One", "Pat Two"}
    assert {c.name for c in organisation_contacts(db, keep_id)} == {"Pat Two"}
    created = db.scalar(
        select(m.AuditEntry.id).where(m.AuditEntry.action == "created", m.AuditEntry.entity_id == drop_id)
    )
    assert created is not None  # its history came back with it
    page = admin_client.get(f"/admin/merges/{record_id}?notice=undone")
    assert "The merge was undone." in page.text and "Everything the merge changed was put back." in page.text
    again = post_form(admin_client, f"/admin/merges/{record_id}/undo", {})
    assert again.status_code == 400 and "already been undone" in again.text


def test_undo_keeps_later_work_and_says_what_it_could_not_restore(admin_client, db):
    if not hasattr(m, "Subscription"):
        return
    keep = factories.contact_via_form(db, "Alex Keep", None, topics=["carers"])
    drop = factories.contact_via_form(db, "Alex K", "alex@example.org", phone="0777", topics=["trauma"])
    db.add(m.Subscription(email="alex@example.org", contact_id=drop.id))
    db.add(m.Subscription(email="alex.two@example.org", contact_id=drop.id))
    db.commit()
    keep_id, drop_id = keep.id, drop.id
    page = admin_client.get(f"/admin/merge/contacts?a={keep_id}&b={drop_id}")
    form = {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": _stamp(page.text)}
    assert post_form(admin_client, "/admin/merge/contacts", form, follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.get(m.Contact, keep_id).email == "alex@example.org"  # an empty field takes the other's by default
    subs = list(db.scalars(select(m.Subscription).where(m.Subscription.contact_id == keep_id)))
    assert len(subs) == 2
    # Later work: the phone edited by hand, one subscription deleted.
    db.execute(update(m.Contact).where(m.Contact.id == keep_id).values(phone="0999"))
    db.delete(subs[1])
    db.commit()
    record_id = db.scalar(select(m.RecordMerge.id))
    assert post_form(admin_client, f"/admin/merges/{record_id}/undo", {}, follow_redirects=False).status_code == 303
    db.expire_all()
    kept, back = db.get(m.Contact, keep_id), db.get(m.Contact, drop_id)
    assert kept.phone == "0999" and kept.email is None and back.email == "alex@example.org" and back.phone == "0777"
    assert db.get(m.Subscription, subs[0].id).contact_id == drop_id
    notes = db.get(m.RecordMerge, record_id).undo_notes
    assert any("Phone" in n for n in notes) and any("subscriptions" in n for n in notes)
    text = admin_client.get(f"/admin/merges/{record_id}").text
    assert "What could not be put back" in text and "Phone of the kept record was changed" in text


def test_bad_input_is_a_message_never_a_500(admin_client, db):
    keep_id, drop_id, *_ = _pair(db)
    same = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b={keep_id}")
    assert same.status_code == 400 and "cannot be merged with itself" in same.text
    r = post_form(admin_client, "/admin/merge/organisations", {"a": keep_id, "b": keep_id, "keep": keep_id})
    assert r.status_code == 400 and "cannot be merged into itself" in r.text
    missing = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b=999999")
    assert missing.status_code == 404 and "no organisation number 999999" in missing.text
    r = post_form(admin_client, "/admin/merge/organisations", {"a": keep_id, "b": 999999, "keep": keep_id})
    assert r.status_code == 404 and "no organisation number 999999" in r.text
    assert admin_client.get("/admin/merge/widgets?a=1").status_code == 404
    r = post_form(admin_client, "/admin/merge/organisations", {"a": keep_id, "b": drop_id, "keep": "x"})
    assert r.status_code == 400 and "Choose which record to keep" in r.text
    page = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b={drop_id}")
    bad = {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": _stamp(page.text), "f_name": "nonsense"}
    r = post_form(admin_client, "/admin/merge/organisations", bad)
    assert r.status_code == 400 and "Choose, for every field" in r.text
    # Stale: the other record changed after the comparison.
    db.execute(update(m.Organisation).where(m.Organisation.id == drop_id).values(description="Edited meanwhile"))
    db.commit()
    stale = {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": _stamp(page.text)}
    r = post_form(admin_client, "/admin/merge/organisations", stale)
    assert r.status_code == 409 and "changed after you compared" in r.text and "Edited meanwhile" in r.text
    db.expire_all()
    assert db.get(m.Organisation, drop_id) is not None  # nothing merged
    # Undo: no such merge, too old, the kept record deleted since.
    assert post_form(admin_client, "/admin/merges/999999/undo", {}).status_code == 404
    assert admin_client.get("/admin/merges/999999").status_code == 404
    fresh = admin_client.get(f"/admin/merge/organisations?a={keep_id}&b={drop_id}")
    form = {"a": keep_id, "b": drop_id, "keep": keep_id, "stamp": _stamp(fresh.text)}
    assert post_form(admin_client, "/admin/merge/organisations", form, follow_redirects=False).status_code == 303
    record_id = db.scalar(select(m.RecordMerge.id))
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    db.execute(update(m.RecordMerge).where(m.RecordMerge.id == record_id).values(created_at=old))
    db.commit()
    r = post_form(admin_client, f"/admin/merges/{record_id}/undo", {})
    assert r.status_code == 400 and "30 days" in r.text
    db.execute(update(m.RecordMerge).where(m.RecordMerge.id == record_id).values(created_at=dt.datetime.now(dt.UTC)))
    db.execute(m.Organisation.__table__.delete().where(m.Organisation.id == keep_id))
    db.commit()
    r = post_form(admin_client, f"/admin/merges/{record_id}/undo", {})
    assert r.status_code == 400 and "kept record has been deleted" in r.text


def test_a_child_merged_with_its_parent_and_undone_is_its_child_again(admin_client, db):
    parent = factories.organisation_via_form(db, "Mind in Somewhere")
    child = factories.organisation_via_form(db, "Mind in Somewhere (branch)", parent=parent.slug)
    db.commit()
    child_id, parent_id = child.id, parent.id
    page = admin_client.get(f"/admin/merge/organisations?a={child_id}&b={parent_id}")
    form = {"a": child_id, "b": parent_id, "keep": child_id, "stamp": _stamp(page.text), "f_name": parent_id}
    assert post_form(admin_client, "/admin/merge/organisations", form, follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.get(m.Organisation, child_id).parent_id is None  # never its own parent
    record_id = db.scalar(select(m.RecordMerge.id))
    assert post_form(admin_client, f"/admin/merges/{record_id}/undo", {}, follow_redirects=False).status_code == 303
    db.expire_all()
    kept = db.get(m.Organisation, child_id)
    assert kept.parent_id == parent_id and kept.name == "Mind in Somewhere (branch)"
    assert db.get(m.Organisation, parent_id).name == "Mind in Somewhere"


def test_contact_pages_and_the_duplicates_list_lead_to_the_field_by_field_comparison(admin_client, db):
    a = factories.contact_via_form(db, "Jo Bloggs", "jo1@example.org")
    b = factories.contact_via_form(db, "jo bloggs", "jo2@example.org")
    db.commit()
    page = admin_client.get(f"/admin/contacts/{a.id}").text
    assert 'action="/admin/merge/contacts"' in page and "Find the other contact" in page
    assert f"/admin/merge/contacts?a={a.id}&amp;b={b.id}" in admin_client.get("/admin/duplicates").text
    compare = admin_client.get(f"/admin/merge/contacts?a={a.id}&b={b.id}").text
    assert "jo1@example.org" in compare and "jo2@example.org" in compare and 'name="f_email"' in compare


def test_undo_never_takes_an_email_address_another_contact_now_has(admin_client, db):
    first = factories.contact_via_form(db, "Robin Old", "robin@old.example.org")
    second = factories.contact_via_form(db, "Robin New", "robin@new.example.org")
    db.commit()
    a_id, b_id = first.id, second.id
    page = admin_client.get(f"/admin/merge/contacts?a={a_id}&b={b_id}")
    form = {"a": a_id, "b": b_id, "keep": b_id, "stamp": _stamp(page.text), "f_email": a_id, "f_name": b_id}
    r = post_form(admin_client, "/admin/merge/contacts", form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/contacts/{b_id}?notice=merged"  # kept the second
    db.expire_all()
    assert db.get(m.Contact, a_id) is None and db.get(m.Contact, b_id).email == "robin@old.example.org"
    assert "(merge " in admin_client.get(f"/admin/contacts/{b_id}").text  # the history names the merge
    factories.contact_via_form(db, "Someone Else", "robin@new.example.org")  # the kept one's old address, taken
    db.commit()
    record_id = db.scalar(select(m.RecordMerge.id))
    assert post_form(admin_client, f"/admin/merges/{record_id}/undo", {}, follow_redirects=False).status_code == 303
    db.expire_all()
    kept, back = db.get(m.Contact, b_id), db.get(m.Contact, a_id)
    assert kept.email == "robin@old.example.org" and kept.name == "Robin New"
    assert back is not None and back.name == "Robin Old" and back.email is None
    notes = " ".join(db.get(m.RecordMerge, record_id).undo_notes)
    assert "robin@new.example.org now belongs to another contact" in notes
    assert "robin@old.example.org now belongs to another contact" in notes


def test_rows_keyed_by_the_record_move_and_come_back_and_a_clash_is_refused_with_nothing_changed(admin_client, db):
    a = factories.contact_via_form(db, "Lee One", "lee1@example.org")
    b = factories.contact_via_form(db, "Lee Two", "lee2@example.org")
    both, only_b = m.ContactList(name="Both in it"), m.ContactList(name="Only Lee Two")
    db.add_all([both, only_b])
    db.flush()
    db.add_all(
        [m.ContactListMember(list_id=only_b.id, contact_id=b.id), m.ContactListMember(list_id=both.id, contact_id=b.id)]
    )
    db.add(m.ContactListMember(list_id=both.id, contact_id=a.id))
    db.commit()
    a_id, b_id, both_id, only_id = a.id, b.id, both.id, only_b.id
    page = admin_client.get(f"/admin/merge/contacts?a={a_id}&b={b_id}")
    form = {"a": a_id, "b": b_id, "keep": a_id, "stamp": _stamp(page.text), "f_name": b_id}
    r = post_form(admin_client, "/admin/merge/contacts", form)
    assert r.status_code == 400 and "contact list members" in r.text and "Nothing was changed" in r.text
    db.expire_all()
    assert db.get(m.Contact, b_id) is not None and db.get(m.Contact, a_id).name == "Lee One"  # rolled back
    assert db.scalar(select(m.RecordMerge.id)) is None
    # Once the clash is resolved, the list membership (whose key holds the contact) moves, and undo moves it back.
    db.execute(m.ContactListMember.__table__.delete().where(m.ContactListMember.list_id == both_id))
    db.commit()
    page = admin_client.get(f"/admin/merge/contacts?a={a_id}&b={b_id}")
    form["stamp"] = _stamp(page.text)
    assert post_form(admin_client, "/admin/merge/contacts", form, follow_redirects=False).status_code == 303
    members = select(m.ContactListMember.contact_id).where(m.ContactListMember.list_id == only_id)
    assert list(db.scalars(members)) == [a_id]
    record_id = db.scalar(select(m.RecordMerge.id))
    assert post_form(admin_client, f"/admin/merges/{record_id}/undo", {}, follow_redirects=False).status_code == 303
    db.expire_all()
    assert list(db.scalars(members)) == [b_id]
    assert db.get(m.RecordMerge, record_id).undo_notes == []


def test_a_refused_merge_changes_nothing_whoever_calls_it(db):
    a = factories.contact_via_form(db, "Kim One", None, topics=["carers"])
    b = factories.contact_via_form(db, "Kim Two", "kim@example.org", topics=["trauma"])
    shared = m.ContactList(name="Shared")
    db.add(shared)
    db.flush()
    db.add_all([m.ContactListMember(list_id=shared.id, contact_id=c.id) for c in (a, b)])
    db.commit()
    try:
        merge.merge_contacts(db, EXTENSIONS, None, a.id, b.id)
    except DirectoryError as exc:
        assert "contact list members" in str(exc)
    else:
        raise AssertionError("the clash was merged")
    db.commit()  # as the older keep-one route does after a refusal
    db.expire_all()
    kept = db.get(m.Contact, a.id)
    assert kept.email is None and db.get(m.Contact, b.id) is not None
    assert fields.values_of(db, "contact", a.id)["topics"] == [_topic_id(db, "carers")]
