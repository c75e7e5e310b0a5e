"""An opportunity's history reads in words: the organisation by name, yes/no, one money line in pounds."""

from __future__ import annotations

from crm import models as m
from crm.history import history
from crm.involvement import editing
from tests.factories import organisation, region_id, topic
from tests.involvement.opportunities_factory import today, valid_form


def _lines(db, opp_id: int) -> list[list[str]]:
    """Each entry's lines, oldest first."""
    return [entry.lines for entry in reversed(history(db, "involvement_opportunity", opp_id))]


def test_a_new_opportunity_is_recorded_in_plain_words(db) -> None:
    mind = organisation(db, "Mind in Camden")
    crisis = topic(db, "Crisis care")
    form = valid_form(
        title="Crisis care panel",
        kind="co-production",
        organisation_id=str(mind.id),
        region_id=str(region_id(db, "UKI")),
        payment_amount="12.50",
        payment_basis="hour",
        topic_ids=[str(crisis.id)],
    )
    data, errors = editing.validate(db, form, today=today())
    assert data is not None, errors
    opp = editing.create(db, data, status=m.OpportunityStatus.DRAFT)
    db.flush()

    [created] = _lines(db, opp.id)
    assert "Organisation: set to Mind in Camden" in created
    assert "Region: set to London" in created
    assert "Expenses covered: set to yes" in created
    assert "Online: set to yes" in created
    assert "Payment: set to £12.50 per hour" in created
    assert "Type of involvement: set to Co-producing a study" in created
    assert "Topics: added Crisis care" in created
    money = [line for line in created if "£" in line or "ayment" in line]
    assert money == ["Payment: set to £12.50 per hour"]  # no "Payment pence" or "Payment amount" beside it
    assert not [line for line in created if line.endswith("–")]  # empty fields are not listed as "set to –"
    assert "Contact email: set to (set)" in created  # personal data: that it is set, never what it is


def test_a_change_says_what_it_was_and_what_it_is(db) -> None:
    first, second = organisation(db, "Carers Together"), organisation(db, "Voices North")
    data, errors = editing.validate(db, valid_form(organisation_id=str(first.id)), today=today())
    assert data is not None, errors
    opp = editing.create(db, data, status=m.OpportunityStatus.PUBLISHED)
    db.flush()

    changed = valid_form(
        title=opp.title,
        organisation_id=str(second.id),
        expenses_covered="",
        payment_amount="15",
        commitment="a-few-sessions",
    )
    data, errors = editing.validate(db, changed, today=today(), existing=opp)
    assert data is not None, errors
    editing.update(db, opp, data)
    db.flush()

    updated = _lines(db, opp.id)[-1]
    assert sorted(updated) == [
        "Commitment: Ongoing (months) → A few sessions",
        "Expenses covered: yes → no",
        "Organisation: Carers Together → Voices North",
        "Payment: £25 per meeting → £15 per meeting",
    ]

    data, errors = editing.validate(db, {"paid": ""}, today=today(), existing=opp, partial=True)
    assert data is not None, errors
    editing.update(db, opp, data)
    db.flush()
    assert sorted(_lines(db, opp.id)[-1]) == ["Paid: yes → no", "Payment: cleared (was £15 per meeting)"]
