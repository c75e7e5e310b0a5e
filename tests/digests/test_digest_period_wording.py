"""The digest (and its preview in the admin) said "Your monthly digest for the December 2026": each kind of period
now reads as English after "for the": the week of its Monday, the month of its name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crm import models as m
from crm.digests import periods
from tests import factories
from tests.digests import helpers as h


def test_each_period_kind_reads_after_for_the():
    assert f"for the {periods.monthly_period(2026, 12).label()}" == "for the month of December 2026"
    assert f"for the {periods.weekly_period(dt.date(2026, 12, 9)).label()}" == "for the week of 7 December 2026"


@pytest.mark.parametrize(
    ("frequency", "phrase"),
    [
        (m.Frequency.MONTHLY, r"Your Roundtable monthly digest for the month of [A-Z][a-z]+ \d{4}: "),
        (m.Frequency.WEEKLY, r"Your Roundtable weekly digest for the week of \d{1,2} [A-Z][a-z]+ \d{4}: "),
    ],
)
def test_the_admin_preview_names_the_period_as_english(admin_client, db, frequency, phrase) -> None:
    ts = h.topics(db)
    h.call(db, factories.funder(db), "Previewed call", topic_ids=(ts[0].id,))
    sub = h.subscription(db, topic_ids=(ts[0].id,), frequency=frequency)
    db.commit()

    page = admin_client.get(f"/admin/digests/preview/{sub.id}")

    assert page.status_code == 200 and "Previewed call" in page.text
    assert re.search(phrase, page.text), re.search(r"Your Roundtable [^:]*:", page.text)
    assert not re.search(r"for the [A-Z]", page.text)
