"""The gaps grid: its marks, sort, CSV and statement count, and its line in the impact report."""

from __future__ import annotations

import csv
import io

from crm import models as m
from crm.map import gaps
from tests import factories
from tests.dashboard import factories as f


def _cell(grid: gaps.Grid, topic: str, region: str) -> gaps.Cell:
    row = next(r for r in grid.rows if r.topic.name == topic)
    return row.cells[[r.name for r in grid.regions].index(region)]


def _data(db) -> None:
    factories.organisation(db, region_name="London", topics=["Psychosis"], user_led=True)
    uni = factories.organisation(db, kind=m.OrgKind.ACADEMIC, region_name="London", topics=["Psychosis"])
    p = f.partnership(db, stage=m.PartnershipStage.ACTIVE)
    db.execute(
        m.partnership_topics.insert(), [{"partnership_id": p.id, "topic_id": factories.topic(db, "Psychosis").id}]
    )
    db.add(m.PartnershipMember(partnership_id=p.id, side=m.Side.ACADEMIC, organisation_id=uni.id))
    for i in range(3):
        s = f.subscription(db, f"gap{i}@example.org")
        db.execute(
            m.subscription_topics.insert(), [{"subscription_id": s.id, "topic_id": factories.topic(db, "Carers").id}]
        )
        db.execute(
            m.subscription_regions.insert(), [{"subscription_id": s.id, "region_id": factories.region_id(db, "UKL")}]
        )
    factories.organisation(db, region_name="Wales", topics=["Carers"])  # one VCSE group for three subscribers
    db.commit()


def test_marks(db):
    _data(db)
    grid = gaps.grid(db)
    assert _cell(grid, "Psychosis", "London").gaps == []
    assert _cell(grid, "Psychosis", "Wales").gaps == ["user_led", "academic", "partnership"]
    carers_wales = _cell(grid, "Carers", "Wales")
    assert (carers_wales.subscribers, carers_wales.vcse) == (3, 1)
    assert "demand" in carers_wales.gaps
    assert len(grid.regions) == 12 and grid.pairs == 12 * len(grid.rows)
    totals = grid.totals()
    assert totals["user_led"] == grid.pairs - 1 and totals["demand"] == 1


def test_sorts_page_csv_and_statements(db, admin_client, count_queries):
    _data(db)
    assert gaps.grid(db, sort="fewest").rows[0].topic.name == "Psychosis"
    assert gaps.grid(db, sort="most").rows[-1].topic.name == "Psychosis"
    with count_queries() as q:
        page = admin_client.get("/admin/map/gaps?sort=most")
    assert page.status_code == 200 and q.count == 3  # session, reference rows, the three sources in one
    assert "Subscribers outnumber groups" in page.text
    response = admin_client.get("/admin/map/gaps.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    carers_wales = next(r for r in rows if r["topic"] == "Carers" and r["region"] == "Wales")
    assert carers_wales["subscribers"] == "3" and carers_wales["subscribers_outnumber_groups"] == "yes"
    assert len(rows) == 12 * len(gaps.grid(db).rows)


def test_summary_line(db, count_queries):
    _data(db)
    with count_queries(db.get_bind()) as q:
        line = gaps.summary(db)
    assert q.count == 1
    assert line == (
        "Of 288 topic and region pairs, 287 have no user-led group, 287 no academic partner, 287 no live "
        "partnership, and 1 has more subscribers than groups that could answer them."
    )


def test_the_impact_report_carries_the_summary(db, admin_client):
    _data(db)
    html = admin_client.get("/admin/reports").text
    assert "Where the gaps are today" in html and "1 has more subscribers than groups" in html
    assert 'href="/admin/map/gaps"' in html
