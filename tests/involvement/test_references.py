"""Before an organisation is deleted, the involvement rows that name it are listed in plain words."""

from __future__ import annotations

import pytest

from crm import models as m
from crm.directory.errors import DirectoryError
from crm.directory.organisations import delete_organisation
from crm.extensions import Extensions
from crm.involvement.references import references
from tests import factories
from tests.involvement import records_builders as b


def test_an_organisation_nothing_names_has_no_reasons(db, count_queries) -> None:
    quiet = factories.organisation(db, "Quiet Group")
    with count_queries(db.get_bind()) as counted:
        assert references(db, quiet.id) == []
    assert counted.count == 4  # one statement per kind, whatever the rows


def test_opportunities_consultations_and_records_are_named(db) -> None:
    mind = factories.organisation(db, "Mind in Camden", kind=m.OrgKind.VCSE)
    other = factories.organisation(db, "Someone Else")
    b.opportunity(db, title="Crisis care advisory group", organisation_id=mind.id)
    b.opportunity(db, title="Not theirs", organisation_id=other.id)
    b.consultation(db, title="Carers and hospital discharge", organisation_id=mind.id)
    asked = b.consultation(db, title="Peer support study")
    answered = b.consultation(db, title="Early intervention study")
    b.recipient(db, asked, mind)
    b.recipient(db, answered, mind, answer=m.ConsultationAnswer.YES, answered_by="Sam")
    b.recipient(db, answered, other)
    b.record(db, organisation_id=mind.id)
    b.record(db, organisation_id=mind.id)
    b.record(db, organisation_id=other.id)

    assert references(db, mind.id) == [
        "Involvement opportunity “Crisis care advisory group” is offered by it",
        "Consultation request “Carers and hospital discharge” is from it",
        "Consultation request “Early intervention study” was sent to it and it answered",
        "Consultation request “Peer support study” was sent to it",
        "2 records of involvement name it",
    ]
    lone = factories.organisation(db, "One Record Group")
    b.record(db, organisation_id=lone.id)
    assert references(db, lone.id) == ["1 record of involvement names it"]


def test_many_are_named_five_at_a_time_and_the_rest_counted(db) -> None:
    busy = factories.organisation(db, "Busy Group")
    for n in range(7):
        b.opportunity(db, title=f"Opportunity {n}", organisation_id=busy.id)
        b.recipient(db, b.consultation(db, title=f"Request {n}"), busy)
    reasons = references(db, busy.id)
    assert reasons[:5] == [f"Involvement opportunity “Opportunity {n}” is offered by it" for n in range(5)]
    assert reasons[5] == "…and 2 more involvement opportunities are offered by it"
    assert reasons[6:11] == [f"Consultation request “Request {n}” was sent to it" for n in range(5)]
    assert reasons[11:] == ["…and 2 more consultation requests were sent to it"]


def test_the_directory_refuses_the_deletion_and_says_why(db) -> None:
    """As the manifest wires it (``references=involvement_references.references``)."""
    group = factories.organisation(db, "Voices Group")
    b.record(db, organisation_id=group.id)
    with pytest.raises(DirectoryError, match="1 record of involvement names it"):
        delete_organisation(db, Extensions(references=[references]), None, group)
    assert db.get(m.Organisation, group.id) is not None
