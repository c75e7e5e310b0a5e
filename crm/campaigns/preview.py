"""The writing form's preview: the email as a recipient would get it, from what is on the form, without saving.

The preview is rendered by the same code as the real email (``crm.campaigns.render``) with sample values for the
per-recipient parts (the fellow's own name, a subscriber's reason, links that lead nowhere). Its HTML is shown in
the outbox viewer's sandboxed frame, which loads a URL of its own; so that the preview needs no stored state,
the frame's URL carries the form's values signed (and compressed) in a token that lasts an hour
(``frame_token`` / ``from_token``). A body too long for a URL (``MAX_TOKEN``) has its values posted into the frame
at a press instead (the fragment's own small form).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from crm import models as m
from crm.campaigns.campaigns import FIELDS, CampaignData, read

__all__ = ["MAX_TOKEN", "Preview", "from_token", "preview", "read", "render", "sample_values", "transient"]
from crm.campaigns.render import render_campaign
from crm.mailing.render import EmailRenderer, RenderedEmail
from crm.settings import Settings

MAX_AGE = 3600
# Longer URLs are refused by some proxies (nginx reads a request line of at most 8 KB by default); a compressed
# token this long holds a body of roughly 10,000 characters of prose (measured: 10,000 give 6,200).
MAX_TOKEN = 7000
WHY = (
    "You get this because you subscribed to News and announcements from Roundtable and confirmed your address. "
    "(Contacts at organisations read why they get it instead.)"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    data: CampaignData
    errors: dict[str, str]  # what would stop the draft being saved, field by field
    email: RenderedEmail
    frame_url: str  # the sandboxed frame's address ("" when the body is too long to carry)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and verifies with all: reversed so secret_keys[0] signs (crm.tokens).
    return URLSafeTimedSerializer(
        list(reversed(settings.secret_keys)),
        salt="crm.campaign-preview",
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def sample_values(settings: Settings, data: CampaignData, *, name: str) -> dict[str, str]:
    base = settings.base_url.rstrip("/")
    return {
        "name": name,
        "unsubscribe_url": f"{base}/u/preview",
        "unsubscribe_all_url": f"{base}/u/preview~all",
        "preferences_url": f"{base}/preferences/preview",
        "why_text": WHY,
        "view_url": f"{base}/news" if data.publish_as_news else "",
    }


def transient(data: CampaignData) -> m.Campaign:
    """An unsaved campaign holding ``data``, for rendering (never added to a session)."""
    return m.Campaign(**{name: getattr(data, name) for name in FIELDS})


# A picture as crm.campaigns.markdown renders it (https only, with alt text): src, alt, then the style.
_IMG = re.compile(r'<img src="https://[^"]*" alt="([^"]*)"[^>]*>')
PICTURE = (
    '<span style="display:inline-block;border:2px dashed #3d4a43;padding:8px 12px;color:#1f2421;">Picture: \\1</span>'
)


def render(renderer: EmailRenderer, data: CampaignData, *, name: str) -> RenderedEmail:
    """The email with sample values. Pictures are shown as their descriptions: the admin's frame never loads from
    the web (a remote image would tell its host that the fellow looked, and the frame's CSP blocks it anyway)."""
    email = render_campaign(renderer, transient(data), sample_values(renderer.settings, data, name=name))
    return dataclasses.replace(email, html=_IMG.sub(PICTURE, email.html))


def frame_token(settings: Settings, data: CampaignData, *, name: str) -> str:
    return _serializer(settings).dumps({"d": data.form_values(), "n": name})


def from_token(settings: Settings, token: str) -> tuple[CampaignData, str] | None:
    """The values a frame token carries, or None when it is not ours, altered or over an hour old."""
    try:
        payload: Any = _serializer(settings).loads(token, max_age=MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), dict):
        return None
    data, _errors = read(payload["d"])
    return data, str(payload.get("n") or "")


def preview(renderer: EmailRenderer, values: Mapping[str, Any], *, name: str, frame_path: str) -> Preview:
    """The preview of a form's values, with its problems; ``frame_path`` is the frame handler's path."""
    data, errors = read(values)
    token = frame_token(renderer.settings, data, name=name)
    frame_url = f"{frame_path}/{token}" if len(token) <= MAX_TOKEN else ""
    return Preview(data=data, errors=errors, email=render(renderer, data, name=name), frame_url=frame_url)
