"""Emails as template triplets: ``email/<name>.subject.txt``, ``email/<name>.txt`` and ``email/<name>.html``.

The three parts render from one context. HTML uses the autoescaping environment, subject and text the plain
one. Knows nothing of the database.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

import msgspec
from jinja2 import Environment

from crm.settings import Settings
from crm.web.templating import html_environment, text_environment

_DECODE = msgspec.json.Decoder().decode


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class EmailRenderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def _globals(self) -> dict[str, Any]:
        s = self.settings
        return {
            "base_url": s.base_url.rstrip("/"),
            "postal_address": s.mail_postal_address,
            "product": "Roundtable CRM",
        }

    @cached_property
    def html_env(self) -> Environment:
        return html_environment(self._globals)

    @cached_property
    def text_env(self) -> Environment:
        return text_environment(self._globals)

    def render(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        subject = self.text_env.get_template(f"email/{name}.subject.txt").render(context)
        # A subject is one line: collapse any newline a value could have smuggled in (header injection).
        subject = " ".join(subject.split())
        text = self.text_env.get_template(f"email/{name}.txt").render(context)
        html = self.html_env.get_template(f"email/{name}.html").render(context)
        return RenderedEmail(subject=subject, text=text, html=html)


def row_context(row: Any) -> dict[str, Any]:
    """The stored context of an outbox row rendered at dispatch (a claim may select the column as JSON text)."""
    context = row.context
    if isinstance(context, str | bytes):
        context = _DECODE(context)  # msgspec: ~5x json.loads on a 200-byte digest context
    return context if isinstance(context, dict) else {}
