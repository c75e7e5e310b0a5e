"""An Atom feed of open internships (``/internships/feed.xml``), built with ElementTree so every value is
escaped by the XML serialiser, never by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from crm.internships.services import stipend_label
from crm.timefmt import format_date

ATOM = "http://www.w3.org/2005/Atom"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters even escaped; drop them."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def atom_feed(rows: Sequence[Any], *, base_url: str, now: dt.datetime) -> bytes:
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = "Roundtable internships"
    ET.SubElement(
        feed, f"{{{ATOM}}}subtitle"
    ).text = (
        "Open placements for early career researchers with VCSE organisations and for VCSE staff with academic teams."
    )
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{base}/internships"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}/internships/feed.xml")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=f"{base}/internships")
    updated = max((r.updated_at for r in rows), default=now)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "Roundtable"
    for r in rows:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        url = f"{base}/internships/{r.slug}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = _clean(f"{r.title} — {r.host_name}")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = url
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(r.updated_at)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(r.published_at or r.updated_at)
        summary = (
            f"{stipend_label(r)} · {r.mode.label} · closes {format_date(r.closing_date)}"
            + (f" · {r.region_name}" if r.region_name else "")
            + "\n\n"
            + (r.description or "")[:1000]
        )
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = _clean(summary)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
