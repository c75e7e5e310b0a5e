"""Atom feeds (RFC 4287) of public listings, written with ElementTree so every value is escaped by the XML
serialiser, never by hand. Each domain maps its rows to ``Entry``; this module knows nothing of them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    title: str
    path: str  # below the base URL: "/internships/peer-research-placement"
    updated: dt.datetime
    published: dt.datetime
    summary: str


@dataclasses.dataclass(frozen=True, slots=True)
class Feed:
    title: str
    subtitle: str
    path: str  # the HTML list the feed mirrors: "/internships"; the feed itself is at path + "/feed.xml"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters even escaped; drop them."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def atom_feed(feed: Feed, entries: Sequence[Entry], *, base_url: str, now: dt.datetime) -> bytes:
    base = base_url.rstrip("/")
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(root, f"{{{ATOM}}}title").text = _clean(feed.title)
    ET.SubElement(root, f"{{{ATOM}}}subtitle").text = _clean(feed.subtitle)
    ET.SubElement(root, f"{{{ATOM}}}id").text = f"{base}{feed.path}"
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=f"{base}{feed.path}/feed.xml")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=f"{base}{feed.path}")
    ET.SubElement(root, f"{{{ATOM}}}updated").text = _iso(max((e.updated for e in entries), default=now))
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "Roundtable"
    for e in entries:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        url = f"{base}{e.path}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = _clean(e.title)
        ET.SubElement(entry, f"{{{ATOM}}}id").text = url
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(e.updated)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(e.published)
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = _clean(e.summary)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
