"""Issue 17.2: history keeps the old value and shows every change in plain words, on the record pages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import models as m
from crm.history import describe, history
from crm.partnerships import changes, rules
from tests import factories
from tests.conftest import post_form


def _region(db, name: str) -> m.Region:
    return db.scalar(select(m.Region).where(m.Region.name == name))


def test_describe_reads_like_a_sentence(db) -> None:
    london, south_east = _region(db, "London"), _region(db, "South East")
    names = {"region_id": {london.id: "London", south_east.id: "South East"}}
    lines = describe(
        {
            "region_id": [london.id, south_east.id],
            "user_led": [False, True],
            "vcse_category": [None, "open-consultative-group"],
            "website": ["https://old.example.org", ""],
            "topics": [["Carers"], ["Carers", "Psychosis"]],
            "members": [["academic: Uni (Lead)"], ["academic: Uni (Lead)", "vcse: Mind (partner)"]],
            "start_date": [None, "2027-01-31"],
            "parent_id": [None, 999_999],
        },
        names,
    )
    assert lines == [  # in field order, the same on both databases
        "Members: added Mind (VCSE side, partner)",
        "Parent organisation: set to #999999 (since deleted)",
        "Region: London → South East",
        "Start date: set to 31 January 2027",
        "Topics: added Psychosis",
        "User-led: no → yes",
        "VCSE category: set to Open consultative group",
        "Website: cleared (was https://old.example.org)",
    ]


def test_organisation_page_shows_old_and_new_values_in_words(admin_client, db) -> None:
    org = factories.organisation_via_form(db, "Mind in Eastmoor", region="london", topics=["carers"])
    db.commit()
    data = {"name": "Mind in Eastmoor", "kind": "vcse", "region": "south-east", "topics": ["carers", "psychosis"]}
    assert post_form(admin_client, f"/admin/organisations/{org.id}/edit", data).status_code in (200, 303)
    page = admin_client.get(f"/admin/organisations/{org.id}").text
    assert "Region: London → South East" in page
    assert "Topics: added Psychosis" in page
    assert "region_id" not in page and "[&#39;" not in page and "['" not in page


def test_partnership_history_names_members_and_stages(admin_client, db) -> None:
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    mind = factories.organisation(db, "Mind")
    now = dt.datetime.now(dt.UTC)
    data = rules.PartnershipInput(title="Study", members=[rules.MemberInput(m.Side.ACADEMIC, uni.id, role="lead")])
    p = changes.create_partnership(db, None, data, now=now, require_both_sides=False)
    data.members.append(rules.MemberInput(m.Side.VCSE, mind.id, role="partner"))
    changes.update_partnership(db, None, p, data, now=now)
    changes.move_stage(db, None, p, rules.Stage.EXPLORING, now=now)
    db.commit()
    page = admin_client.get(f"/admin/partnerships/{p.id}").text
    assert "Members: added Mind (VCSE side, partner)" in page
    assert "Stage: Idea → Exploring" in page
    assert "Not set yet" in page and "not set to not set" not in page  # the dates line when neither is given


def test_history_is_two_statements_however_many_entries(db, count_queries) -> None:
    org = factories.organisation_via_form(db, "Busy group", region="london")
    regions = ["south-east", "london"] * 15
    from crm.directory import organisations

    for slug in regions:
        values, form = organisations.validate_organisation(db, {"name": "Busy group", "kind": "vcse", "region": slug})
        assert form.ok
        organisations.update_organisation(db, None, org, values)
    db.commit()
    with count_queries() as q:
        entries = history(db, "organisation", org.id)
    assert len(entries) == 31 and q.count == 2  # the entries, then the region names
    assert entries[0].lines == ["Region: South East → London"]


def test_links_between_people_and_organisations_are_named_on_both_sides(db) -> None:
    from crm.directory import contacts

    org = factories.organisation_via_form(db, "Aster Voices")
    person = factories.contact_via_form(db, "Jo Bloggs", "jo@example.org")
    aff = contacts.add_affiliation(db, None, person, org, "Chair", True)
    contacts.remove_affiliation(db, None, aff)
    db.commit()
    unlinked, linked = history(db, "organisation", org.id)[:2]
    assert (linked.summary, linked.lines) == ("Jo Bloggs", ["Contact: set to Jo Bloggs", "Role: set to Chair"])
    assert unlinked.lines == ["Contact: cleared (was Jo Bloggs)", "Role: cleared (was Chair)"]
    assert history(db, "contact", person.id)[0].summary == "from Aster Voices"
