"""A funding call's rules read once for many calls (``services.CallLookups``) give the same messages as read for
one call; the CSV import reads them once per file, so neither its check nor its write reads them per row.

The check's flat statement count through the web (10 rows and 100) is in tests/web/test_offloaded_statements.py.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import func, select

from crm import models as m
from crm.funding import importer
from crm.funding import services as fs
from tests import factories
from tests.funding.helpers import NOW, call_input, make_call

# The statements the rules used to make for each row: the funder by id, the external_ref clash, the topic and
# region ids (and the one-call path's reads, in case the import ever falls back to it).
RULE_READS = re.compile(
    r"WHERE (topics|regions|organisations)\.id IN"
    r"|WHERE funding_calls\.external_ref (=|IN)"
    r"|SELECT organisations\.id, .*WHERE organisations\.id = ",
    re.S,
)


def test_rules_read_once_give_the_same_messages_as_rules_read_for_one_call(db, count_queries):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    taken = make_call(db, funder, external_ref="NT-1")
    carers, london = factories.topic(db, "Carers").id, factories.region(db, "London").id
    missing_topic = db.scalar(select(func.max(m.Topic.id))) + 1
    missing_region = db.scalar(select(func.max(m.Region.id))) + 1
    missing_org = db.scalar(select(func.max(m.Organisation.id))) + 1
    bad = dataclasses.replace(
        call_input(db, funder, ""),
        funder_id=missing_org,
        external_ref="NT-1",
        topic_ids=[carers, missing_topic],
        region_ids=[missing_region],
    )
    good = call_input(db, funder, "Fine call", topics=["Carers"], regions=["London"])
    own = dataclasses.replace(good, external_ref="NT-1")  # the call's own reference is no clash
    expected = {
        "title": "Enter the call's title.",
        "funder_id": "Choose a funder from the directory.",
        "external_ref": "Another call already has this external reference.",
        "topic_ids": "Choose topics from the list.",
        "region_ids": "Choose regions from the list.",
    }
    with count_queries() as q:
        once = fs.CallLookups.load(db, [bad, good, own] * 40)
    assert q.count == 4  # one statement for each kind of thing named, whatever the number of calls
    assert fs.validate_call(db, bad, is_new=True, now=NOW) == expected
    assert fs.validate_call(db, bad, is_new=True, now=NOW, lookups=once) == expected
    assert fs.validate_call(db, good, is_new=True, now=NOW) == {}
    assert fs.validate_call(db, good, is_new=True, now=NOW, lookups=once) == {}
    assert fs.validate_call(db, own, is_new=False, now=NOW, call_id=taken.id) == {}
    assert fs.validate_call(db, own, is_new=False, now=NOW, call_id=taken.id, lookups=once) == {}
    assert london in once.region_ids and missing_region not in once.region_ids


HEADER = "external_ref,title,funder,deadlines,amount_min,amount_max,lead_must_be_academic,lead_must_be_vcse\n"


def test_the_import_reports_each_row_that_breaks_a_rule_with_the_rules_words(db):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    make_call(db, funder, "Kept call", external_ref="NT-1")
    db.commit()
    text = HEADER + (
        "NT-1,Kept call,Northfield Trust,2099-01-31,,,,\n"
        "NT-2,Amounts upside down,Northfield Trust,2099-01-31,9000,100,,\n"
        "NT-3,Closed long ago,Northfield Trust,2020-01-31,,,,\n"
        "NT-4,Both leads,Northfield Trust,2099-01-31,,,yes,yes\n"
        "NT-5,Fine call,Northfield Trust,2099-01-31,100,9000,,\n"
    )
    report = importer.run_import(db, text, apply=False, now=NOW)
    assert {r.row: r.errors for r in report.rows if r.errors} == {
        3: [("amount_max", "The maximum amount must be at least the minimum amount.")],
        4: [("deadlines", "A new call cannot have a deadline in the past. Check the dates (times are UK time).")],
        5: [("lead_must_be_vcse", "The lead cannot have to be both an academic institution and a VCSE.")],
    }
    assert [r.action for r in report.rows] == ["unchanged", "error", "error", "error", "new"]


def test_the_import_writes_rows_without_reading_the_rules_rows_again_for_each(db, count_queries):
    factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    db.commit()
    header = "external_ref,title,funder,deadlines,topics,regions\n"
    reads = []
    for tag, n in (("a", 10), ("b", 20)):
        rows = "".join(f"{tag}-{i},Written call {tag}{i},Northfield Trust,2099-02-01,Carers,London\n" for i in range(n))
        with count_queries() as q:
            report = importer.run_import(db, header + rows, apply=True, now=NOW)
        assert report.new == n, report.rows[:2]
        reads.append(sum(bool(RULE_READS.search(s)) for s in q.statements))
    assert reads[0] == reads[1], reads


def test_a_row_that_changes_a_calls_reference_moves_it_for_the_rows_after_it(db):
    """Row 1 gives a call a new reference; row 2 carries the old one: a new call, in the check and in the write."""
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    renamed = make_call(db, funder, "Renamed call", external_ref="OLD-1")
    db.commit()
    text = (
        "external_ref,title,funder,deadlines\n"
        "NEW-1,Renamed call,Northfield Trust,2099-02-01\n"
        "OLD-1,Another call,Northfield Trust,2099-03-01\n"
    )
    check = importer.run_import(db, text, apply=False, now=NOW, replace={"external_ref"})
    assert [r.action for r in check.rows] == ["update", "new"], [(r.action, r.errors) for r in check.rows]
    report = importer.run_import(db, text, apply=True, now=NOW, replace={"external_ref"})
    assert [r.action for r in report.rows] == ["update", "new"], [(r.action, r.errors) for r in report.rows]
    db.expire_all()
    refs = dict(db.execute(select(m.FundingCall.title, m.FundingCall.external_ref)).all())
    assert refs == {"Renamed call": "NEW-1", "Another call": "OLD-1"} and renamed.external_ref == "NEW-1"
