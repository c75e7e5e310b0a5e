"""Journey (issue 17.1): the fellow imports a spreadsheet that conflicts with what the CRM holds, sees every change
old → new, chooses to replace one column, confirms, opens the import's page and undoes it; the record is back as it
was and the organisation the import created is gone."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import models as m
from crm.directory import organisations

pytestmark = pytest.mark.browser


def test_import_with_conflicts_choose_confirm_undo(page, live, signed_in, tmp_path):
    tag = secrets.token_hex(3)
    name, old, new = f"Journey Mind {tag}", "National mental-health charity with local Minds.", "Café text; £5."
    with live.session() as s:
        cleaned, form = organisations.validate_organisation(s, {"name": name, "kind": "vcse", "description": old})
        assert form.ok, form.errors
        org_id = organisations.create_organisation(s, None, cleaned).id
        s.commit()
    csv_path = tmp_path / "journey.csv"
    csv_path.write_bytes(
        f"organisation_name,description,postcode\n{name},{new},SW1A 1AA\nJourney New Group {tag},Brand new.,\n".encode(
            "cp1252"
        )
    )
    signed_in(m.Role.ADMIN)

    page.goto("/admin/import")
    page.get_by_label("CSV file").set_input_files(str(csv_path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Import preview")
    expect(page.get_by_text("This file was saved in Windows-1252 (Excel); we read it as such.")).to_be_visible()
    changes = page.locator("table.import-changes")
    expect(changes).to_contain_text(old)
    expect(changes).to_contain_text("kept")
    expect(changes).to_contain_text("SW1A 1AA")  # the empty postcode is filled

    page.get_by_label("Replace descriptions from the file (1 record)").check()
    page.get_by_role("button", name="Show the preview with these choices").click()
    expect(page.locator("table.import-changes")).to_contain_text(f"replaced {old} → {new}")
    expect(page.get_by_label("Replace descriptions from the file (1 record)")).to_be_checked()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import finished")
    with live.session() as s:
        assert s.get(m.Organisation, org_id).description == new

    page.get_by_role("link", name=re.compile(r"^import #\d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Organisations and contacts")
    expect(page.get_by_text("journey.csv")).to_be_visible()
    page.get_by_role("button", name="Undo this import").click()
    expect(page.get_by_role("status")).to_have_text("The import was undone.")
    with live.session() as s:
        org = s.get(m.Organisation, org_id)
        assert (org.description, org.postcode, org.region_id) == (old, "", None)
        assert s.scalar(select(m.Organisation.id).where(m.Organisation.name == f"Journey New Group {tag}")) is None
    assert page.console.errors == []
