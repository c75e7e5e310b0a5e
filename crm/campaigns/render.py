"""Rendering a campaign email: the templates once per campaign, then a cheap fill per recipient.

``CampaignShell`` renders ``email/campaign.subject.txt|.txt|.html`` with markers in place of the per-recipient values
(name, links, why, view in browser) and splits the output at them, as the digest's ``Shell`` does
(``crm.digests.render``): per recipient the work is joining strings, whatever the length of the body. The Markdown
is rendered once per shell (``crm.campaigns.markdown``), never per recipient.

Templates may test a per-recipient value (``{% if name %}``, ``{% if view_url %}``, the bulk footer's "unsubscribe
from everything" when it differs from "unsubscribe"): a shell keeps one variant per combination of present values
(at most eight, each rendered the first time a recipient needs it).

``render_campaign`` is the one-shot form for the preview and the test send. Knows nothing of the database.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from crm import models as m
from crm.campaigns.markdown import to_email_html, to_text
from crm.mailing.render import EmailRenderer, RenderedEmail

TEMPLATE = "campaign"
VALUES = ("name", "unsubscribe_url", "unsubscribe_all_url", "preferences_url", "why_text", "view_url")
_MARK = re.compile("\x00([a-z_]+)\x00")

Variant = tuple[bool, bool, bool]  # name given, view_url given, a separate "unsubscribe from everything"


class _Parts:
    """One rendered template split at its markers: static, name, static, name, ..., static."""

    __slots__ = ("names", "parts")

    def __init__(self, rendered: str) -> None:
        self.parts = _MARK.split(rendered)
        self.names = self.parts[1::2]

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts[:]
        parts[1::2] = [values.get(name, "") for name in self.names]
        return "".join(parts)


class CampaignShell:
    """A campaign's three parts rendered once, filled per recipient with ``fill(values)``.

    ``values``: ``name`` (may be ""), ``unsubscribe_url``, ``unsubscribe_all_url``, ``preferences_url``,
    ``why_text``, ``view_url`` (the public news page, or ""). Values arrive raw: the HTML part escapes them here.
    """

    def __init__(self, renderer: EmailRenderer, campaign: m.Campaign) -> None:
        self.renderer = renderer
        cta_label, cta_url = (campaign.cta_label or "").strip(), (campaign.cta_url or "").strip()
        body = campaign.body or ""
        self._context: dict[str, Any] = {
            "subject": " ".join((campaign.subject or "").split()),
            "preheader": " ".join((campaign.preheader or "").split()),
            "cta_label": cta_label if cta_url else "",
            "cta_url": cta_url if cta_label else "",
            "sender_name": campaign.sender_name or "",
        }
        self._body_html = to_email_html(body)
        self._body_text = to_text(body)
        self._variants: dict[Variant, tuple[_Parts, _Parts, _Parts]] = {}
        text_env, html_env = renderer.text_env, renderer.html_env
        self._subject_t = text_env.get_template(f"email/{TEMPLATE}.subject.txt")
        self._text_t = text_env.get_template(f"email/{TEMPLATE}.txt")
        self._html_t = html_env.get_template(f"email/{TEMPLATE}.html")
        self.subject = " ".join(self._subject_t.render(self._marked((False, False, False), html=False)).split())

    def _marked(self, variant: Variant, *, html: bool) -> dict[str, Any]:
        has_name, has_view, has_all = variant
        marks: dict[str, Any] = {name: f"\x00{name}\x00" for name in VALUES}
        if not has_name:
            marks["name"] = ""
        if not has_view:
            marks["view_url"] = ""
        if not has_all:
            marks["unsubscribe_all_url"] = ""
        if html:
            marks = {k: Markup(v) for k, v in marks.items()}
            return {**self._context, **marks, "body_html": self._body_html}
        return {**self._context, **marks, "body_text": self._body_text}

    def _variant(self, variant: Variant) -> tuple[_Parts, _Parts, _Parts]:
        found = self._variants.get(variant)
        if found is None:
            found = self._variants[variant] = (
                _Parts(self._subject_t.render(self._marked(variant, html=False))),
                _Parts(self._text_t.render(self._marked(variant, html=False))),
                _Parts(self._html_t.render(self._marked(variant, html=True))),
            )
        return found

    def fill(self, values: dict[str, str]) -> RenderedEmail:
        """The email for one recipient."""
        clean = {k: str(values.get(k) or "") for k in VALUES}
        clean["name"] = " ".join(clean["name"].split())  # a name is one line
        separate_all = bool(clean["unsubscribe_all_url"]) and clean["unsubscribe_all_url"] != clean["unsubscribe_url"]
        subject, text, html = self._variant((bool(clean["name"]), bool(clean["view_url"]), separate_all))
        escaped = {k: str(escape(v)) for k, v in clean.items()}
        return RenderedEmail(
            subject=" ".join(subject.fill(clean).split()),
            text=text.fill(clean),
            html=html.fill(escaped),
        )


def render_campaign(renderer: EmailRenderer, campaign: m.Campaign, values: dict[str, str]) -> RenderedEmail:
    """One email at once (the preview, a test send)."""
    return CampaignShell(renderer, campaign).fill(values)
