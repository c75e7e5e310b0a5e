"""schema.org ``JobPosting`` structured data for an internship page, as JSON safe to put inside
``<script type="application/ld+json">``: ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so neither
``</script>`` nor ``<!--`` can appear raw, and the JSON still parses to the same text."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from crm.internships.services import Detail

UNIT_TEXT = {"hour": "HOUR", "day": "DAY", "week": "WEEK", "month": "MONTH", "year": "YEAR"}


def safe_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def job_posting(detail: Detail, base_url: str) -> dict[str, Any]:
    i = detail.internship
    base = base_url.rstrip("/")
    posted = (i.published_at or i.created_at).astimezone(dt.UTC)
    organisation: dict[str, Any] = {"@type": "Organization", "name": detail.host_name}
    if detail.host_website:
        organisation["sameAs"] = detail.host_website
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": i.title,
        "description": i.description or i.title,
        "identifier": {"@type": "PropertyValue", "name": "Roundtable", "value": str(i.id)},
        "datePosted": posted.date().isoformat(),
        "validThrough": i.closes_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "employmentType": ["INTERN", "PART_TIME" if (i.hours_per_week or 0) < 30 else "FULL_TIME"]
        if i.hours_per_week
        else "INTERN",
        "hiringOrganization": organisation,
        "url": f"{base}/internships/{i.slug}",
        "directApply": False,
    }
    if i.mode.value == "remote":
        data["jobLocationType"] = "TELECOMMUTE"
        data["applicantLocationRequirements"] = {"@type": "Country", "name": "United Kingdom"}
    else:
        address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "GB"}
        if detail.region_name and detail.region_code != "UK":
            address["addressRegion"] = detail.region_name
        data["jobLocation"] = {"@type": "Place", "address": address}
    if i.paid and i.stipend_pence is not None:
        value: dict[str, Any] = {"@type": "QuantitativeValue", "value": i.stipend_pence / 100}
        period = i.stipend_period.value if i.stipend_period else ""
        if period in UNIT_TEXT:
            value["unitText"] = UNIT_TEXT[period]
        data["baseSalary"] = {"@type": "MonetaryAmount", "currency": "GBP", "value": value}
    if i.hours_per_week:
        data["workHours"] = f"{i.hours_per_week} hours per week"
    if detail.stages:
        data["qualifications"] = "Open to: " + ", ".join(detail.stages)
    return data


def job_posting_jsonld(detail: Detail, base_url: str) -> str:
    return safe_json(job_posting(detail, base_url))
