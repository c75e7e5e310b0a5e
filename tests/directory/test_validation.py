"""Issue 17.6: postcodes, charity and company numbers by format with a plain message; a postcode fills an empty
region; a website urlsplit cannot read (``http://[bad``) is a field error in every entry point, never a 500."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crm import models as m
from crm.accounts.services import create_api_key
from crm.directory import importer, postcode_regions
from crm.directory.reference import REGIONS
from crm.validation import normalise_charity_number, normalise_company_number, normalise_postcode, split_url
from tests.conftest import csrf_token, post_form

BAD_WEBSITE = "http://[bad"


# ------------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("  m1   1ae ", "M1 1AE"),
        ("ec1a1bb", "EC1A 1BB"),
        ("B33 8TH", "B33 8TH"),
        ("cr2 6xh", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("bt1 5gs", "BT1 5GS"),
        ("GIR 0AA", "GIR 0AA"),
    ],
)
def test_valid_postcodes_are_normalised(typed: str, stored: str) -> None:
    assert normalise_postcode(typed) == stored


@pytest.mark.parametrize("typed", ["M1", "SW1A", "12345", "SW1A 1CA", "1AA 1AA", "SW1A 1AAA", "SW1A-1AA", "ZZZ1 1AA"])
def test_invalid_postcodes_are_refused_in_plain_words(typed: str) -> None:
    with pytest.raises(ValueError, match="Enter a full UK postcode, like SW1A 1AA"):
        normalise_postcode(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1123456", "1123456"),  # England and Wales, 7 digits
        ("219830", "219830"),  # England and Wales, an older 6-digit number
        ("1123456-1", "1123456-1"),  # a linked charity
        ("1123456-12", "1123456-12"),
        ("sc 012345", "SC012345"),  # OSCR
        ("NIC100002", "NIC100002"),  # CCNI
        ("nic 100 002", "NIC100002"),
    ],
)
def test_valid_charity_numbers(typed: str, stored: str) -> None:
    assert normalise_charity_number(typed) == stored


@pytest.mark.parametrize(
    "typed", ["1100", "12345", "123456789", "1123456-123", "1123456/1", "SC12345", "SC0123456", "NIC12345", "XR12345"]
)
def test_invalid_charity_numbers(typed: str) -> None:
    with pytest.raises(ValueError, match="Enter a registered charity number"):
        normalise_charity_number(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("01234567", "01234567"),
        ("1234567", "01234567"),  # typed without its leading zero, as people do
        ("sc123456", "SC123456"),
        ("NI 012345", "NI012345"),
        ("OC300001", "OC300001"),
        ("R0000123", "R0000123"),
    ],
)
def test_valid_company_numbers(typed: str, stored: str) -> None:
    assert normalise_company_number(typed) == stored


@pytest.mark.parametrize("typed", ["123456789", "S1234567", "AB12345", "ABC12345", "12-34567"])
def test_invalid_company_numbers(typed: str) -> None:
    with pytest.raises(ValueError, match="Enter a Companies House number"):
        normalise_company_number(typed)


def test_split_url_never_raises() -> None:
    assert split_url(BAD_WEBSITE) is None
    assert split_url("http://example.org:99999") is None
    assert split_url("https://example.org/a").netloc == "example.org"


def test_the_postcode_table_names_only_real_regions_and_knows_the_usual_areas() -> None:
    codes = {code for code, _ in REGIONS}
    assert {c for c in postcode_regions.AREA_REGIONS.values() if c} <= codes
    expected = {"M": "UKD", "SW": "UKI", "EH": "UKM", "BT": "UKN", "CF": "UKL", "NE": "UKC", "B": "UKG", "BS": "UKK"}
    assert {area: postcode_regions.region_code(area) for area in expected} == expected
    assert len(postcode_regions.AREA_REGIONS) == 125  # 121 UK areas, Guernsey, Jersey, Isle of Man, GIR
    assert postcode_regions.region_code("JE") is None


# -------------------------------------------------------------------------------------------- entry points


@pytest.fixture
def api(db):
    _, key = create_api_key(db, "admin", m.Role.ADMIN)
    db.commit()
    return {"Authorization": f"Bearer {key}"}


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_api_create_checks_every_format_and_fills_the_region(client, db, api) -> None:
    bad = client.post(
        "/api/v1/organisations",
        json={
            "name": "Mistyped",
            "kind": "vcse",
            "website": BAD_WEBSITE,
            "postcode": "SW1A",
            "charity_number": "1100",
            "company_number": "ABC",
        },
        headers=api,
    )
    assert bad.status_code == 422, bad.text
    errors = _fields(bad)
    assert set(errors) == {"website", "postcode", "charity_number", "company_number"}
    assert errors["website"] == "Enter a website address like https://example.org."
    assert db.scalar(select(m.Organisation.id)) is None
    good = client.post(
        "/api/v1/organisations",
        json={
            "name": "Typed well",
            "kind": "vcse",
            "postcode": "sw1a1aa",
            "charity_number": "sc 012345",
            "company_number": "1234567",
        },
        headers=api,
    )
    assert good.status_code == 201, good.text
    body = good.json()
    assert (body["postcode"], body["charity_number"], body["company_number"]) == ("SW1A 1AA", "SC012345", "01234567")
    assert body["region"] == "london"  # filled from SW, the region was empty


def test_api_postcode_never_overrides_a_chosen_region_and_patch_checks_too(client, db, api) -> None:
    made = client.post(
        "/api/v1/organisations",
        json={"name": "Chosen", "kind": "vcse", "region": "wales", "postcode": "M1 1AE"},
        headers=api,
    )
    assert made.status_code == 201 and made.json()["region"] == "wales"
    org_id = made.json()["id"]
    patched = client.patch(f"/api/v1/organisations/{org_id}", json={"website": BAD_WEBSITE}, headers=api)
    assert patched.status_code == 422 and set(_fields(patched)) == {"website"}
    unknown = client.patch(f"/api/v1/organisations/{org_id}", json={"postcode": "QQ1 1AA"}, headers=api)
    assert unknown.status_code == 422 and "No UK postcode starts with QQ" in _fields(unknown)["postcode"]


def test_add_your_group_refuses_a_bad_website_as_a_field_error(client, db) -> None:
    data = {
        "name": "Anonymous group",
        "kind": "vcse",
        "website": BAD_WEBSITE,
        "postcode": "not a postcode",
        "submitter_name": "Sam",
        "submitter_email": "sam@example.org",
    }
    r = post_form(client, "/add-your-group", data)
    assert r.status_code == 400, r.text[:300]
    assert "Enter a website address like https://example.org." in r.text
    assert "Enter a full UK postcode, like SW1A 1AA." in r.text
    assert db.scalar(select(m.Organisation.id)) is None
    ok = post_form(client, "/add-your-group", {**data, "website": "example.org", "postcode": "ls11aa"})
    assert ok.status_code == 200 and "Thank you" in ok.text
    org = db.scalar(select(m.Organisation))
    region = db.get(m.Region, org.region_id)
    assert org.postcode == "LS1 1AA" and region.name == "Yorkshire and The Humber"


def test_admin_form_shows_each_message_beside_its_field(admin_client, db) -> None:
    r = post_form(
        admin_client,
        "/admin/organisations/new",
        {"name": "Form group", "kind": "vcse", "website": BAD_WEBSITE, "charity_number": "12", "company_number": "x1"},
    )
    assert r.status_code in (400, 422), r.status_code
    assert "Enter a website address like https://example.org." in r.text
    assert "Enter a registered charity number" in r.text and "Enter a Companies House number" in r.text


CSV_HEADER = "organisation_name,website,postcode,charity_number\n"


def test_import_reports_bad_websites_postcodes_and_numbers_per_row(db, tmp_path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(
        CSV_HEADER
        + f"Bracket group,{BAD_WEBSITE},,\n"
        + "Postcode group,,SW1A,\n"
        + "Number group,,,1100\n"
        + "Good group,good.example.org,eh1 1aa,SC012345\n",
        encoding="utf-8",
    )
    report = importer.run_import(db, path, apply=True)
    problems = {(row, column) for row, column, _ in report.errors}
    assert problems == {(2, "website"), (3, "postcode"), (4, "charity_number")}
    org = db.scalar(select(m.Organisation).where(m.Organisation.name == "Good group"))
    assert org.postcode == "EH1 1AA" and org.charity_number == "SC012345"
    assert db.get(m.Region, org.region_id).name == "Scotland"


def test_admin_import_upload_with_a_bad_website_is_a_preview_not_a_500(admin_client, db) -> None:
    content = (CSV_HEADER + f"Bracket group,{BAD_WEBSITE},,\n").encode()
    r = admin_client.post(
        "/admin/import",
        files={"file": ("orgs.csv", content, "text/csv")},
        data={"_csrf_token": csrf_token(admin_client)},
    )
    assert r.status_code == 200, r.text[:300]
    assert "Enter a website address like https://example.org." in r.text


def test_cli_import_with_a_bad_website_reports_it_without_a_traceback(app, db, settings, monkeypatch, tmp_path):
    from crm import cli

    monkeypatch.setenv("CRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CRM_SECRET_KEY", settings.secret_keys[0])
    monkeypatch.setenv("CRM_ENV", "test")
    path = tmp_path / "orgs.csv"
    path.write_text(CSV_HEADER + f"Bracket group,{BAD_WEBSITE},,\n", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["import", "organisations", str(path), "--dry-run"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "row 2, column website" in result.output
