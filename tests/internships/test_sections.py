"""Organisation page sections and delete references from this domain."""

from __future__ import annotations

from crm import models as m
from crm.directory.references import organisation_references
from crm.directory.sections import admin_sections, public_sections
from crm.domains import EXTENSIONS
from tests import factories
from tests.internships.helpers import make_internship

S = m.InternshipStatus


def test_sections_and_references(db, app):
    org = factories.organisation(db, "Section Org")
    make_internship(db, org, title="Open placement", pence=10000, period="week")
    make_internship(db, org, title="Hidden draft", status=S.DRAFT)
    db.add(
        m.InternshipInterest(internship_id=make_internship(db, org, title="Third").id, name="A", email="a@example.org")
    )
    db.flush()
    public = [s for s in public_sections(db, org.id, EXTENSIONS) if s.template.startswith("public/internship")]
    assert len(public) == 1
    titles = [r.title for r in public[0].context["internships"]]
    assert "Open placement" in titles and "Hidden draft" not in titles
    html = app.state.jinja.get_template(public[0].template).render(section=public[0])
    assert "Open placement" in html and "£100 a week" in html
    admin = [s for s in admin_sections(db, org.id, EXTENSIONS) if s.template.startswith("admin/internship")]
    rows = admin[0].context["internships"]
    assert {r.title for r in rows} == {"Open placement", "Hidden draft", "Third"}
    assert {r.title: r.interest_count for r in rows}["Third"] == 1
    assert "Hidden draft" in app.state.jinja.get_template(admin[0].template).render(section=admin[0])
    reasons = organisation_references(db, org.id, EXTENSIONS)
    assert "Internship 'Open placement' is hosted by it" in reasons
    empty = factories.organisation(db)
    assert public_sections(db, empty.id, EXTENSIONS) == [] or all(
        not s.template.startswith("public/internship") for s in public_sections(db, empty.id, EXTENSIONS)
    )
