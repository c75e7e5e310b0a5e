"""Rendering digests: item fragments once per run, a thin per-subscriber shell, footer and headers.

Outbox rows of kind ``digest`` store only what to render (``template="digest"`` and a small ``context`` with the
section keys and item ids); the dispatcher calls ``render_claimed`` for the rows it claimed, so 100,000 digests
do not write 800 MB of bodies. The same code renders the admin preview and (``render_at_build``) the build-time
variant the benchmark compares against.

Per digest the work is: one shell render per part (HTML, text, subject) around pre-rendered ``Markup``
fragments, the compliance footer (``crm.mailing.compliance``) and one "not relevant" token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any

from itsdangerous.encoding import base64_encode, int_to_bytes
from markupsafe import Markup, escape
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from crm import models as m
from crm.digests.periods import PeriodError, parse
from crm.digests.sections import BY_KEY, Catalogue, Section
from crm.mailing import compliance
from crm.mailing.render import EmailRenderer, RenderedEmail
from crm.settings import Settings
from crm.tokens import Signer

log = logging.getLogger("crm.digests.render")

TEMPLATE = "digest"
MORE_CAP = 10  # crm.digests.builder stops counting further matches here
NR_PLACEHOLDER = "NRTOKEN0placeholder"
TOKEN_LENGTH = 70  # a "not-relevant" token for a 7-digit subscription id is about 63 characters
SECTION_TEMPLATES = {
    "calls_new": "email/_section_calls",
    "calls_closing": "email/_section_calls",
    "events": "email/_section_events",
    "internships": "email/_section_internships",
}
ITEM_WORDS = {
    "calls_new": ("new funding call", "new funding calls"),
    "calls_closing": ("call closing soon", "calls closing soon"),
    "events": ("event", "events"),
    "internships": ("internship", "internships"),
}


class FastSigner:
    """Signs exactly like ``crm.tokens.Signer`` (itsdangerous ``URLSafeTimedSerializer``, SHA-256, the same salts
    and keys; ``Signer.verify`` accepts its tokens) but keeps each purpose's derived-key HMAC ready, so a
    digest's four or five links cost a few microseconds each instead of ~25 µs (bulk runs sign 100,000s)."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._prepared: dict[str, tuple[Any, Any]] = {}
        self._recent: dict[tuple[str, bytes], str] = {}

    def _prepare(self, purpose: str) -> tuple[Any, Any]:
        prepared = self._prepared.get(purpose)
        if prepared is None:
            serializer = self._signer._serializer(purpose)
            key = serializer.make_signer().derive_key()
            prepared = (serializer, hmac.new(key, digestmod=hashlib.sha256))
            self._prepared[purpose] = prepared
        return prepared

    def sign(self, purpose: str, payload: Any) -> str:
        serializer, mac = self._prepare(purpose)
        raw = json.dumps(payload, separators=(",", ":")).encode("ascii")
        # The footer and the List-Unsubscribe header sign the same payload for one digest: sign it once.
        memo = (purpose, raw)
        token = self._recent.get(memo)
        if token is None:
            if len(self._recent) >= 8:
                self._recent.clear()
            token = self._recent[memo] = self._sign(serializer, mac, payload, raw)
        return token

    @staticmethod
    def _sign(serializer: Any, mac: Any, payload: Any, raw: bytes) -> str:
        # Long payloads: itsdangerous decides on compression; short ones never compress smaller, and verify
        # accepts both forms.
        body = serializer.dump_payload(payload) if len(raw) > 80 else base64_encode(raw)
        value = body + b"." + base64_encode(int_to_bytes(int(time.time())))
        digest = mac.copy()
        digest.update(value)
        return (value + b"." + base64_encode(digest.digest())).decode("ascii")

    def verify(self, purpose: str, token: str, max_age: int | None = None) -> Any:
        return self._signer.verify(purpose, token, max_age)


def not_relevant_token(signer: Signer | FastSigner, subscription_id: int) -> str:
    return signer.sign("not-relevant", {"s": subscription_id})


def summary(sections: list[list[Any]]) -> str:
    parts = []
    for key, ids, _more in sections:
        one, many = ITEM_WORDS.get(key, ("item", "items"))
        parts.append(f"{len(ids)} {one if len(ids) == 1 else many}")
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else "nothing new"


def more_text(more: int) -> str:
    if more >= MORE_CAP:
        return f"{MORE_CAP} or more further matches"
    return "1 more match" if more == 1 else f"{more} more matches"


def _strip_heading_html(html: str) -> str:
    # The internships section template renders a heading and its items; the digest shows one heading per
    # section, so a per-item fragment keeps only what follows the heading.
    return html.split("</h2>", 1)[1].lstrip("\n") if "</h2>" in html else html


def _strip_heading_text(text: str) -> str:
    lines = text.lstrip("\n").split("\n")
    if len(lines) > 2 and lines[1] and set(lines[1]) == {"="}:
        lines = lines[2:]
    return "\n".join(lines).strip("\n") + "\n"


ITEMS_MARK = "\x00items\x00"
SHELL_VALUES = (
    "name_part",
    "summary",
    "subject_summary",
    "sections_html",
    "sections_text",
    "unsubscribe_url",
    "unsubscribe_all_url",
    "preferences_url",
    "why_text",
    "bulk_mailing",
)
_MARK = re.compile("\x00([a-z_]+)\x00")
SAFE_VALUES = {"sections_html"}  # already-escaped HTML built from fragments


class Shell:
    """A template rendered once with placeholders, filled per subscriber by string assembly ("render once,
    assemble many", performance.md §4.2). HTML values are escaped here exactly as Jinja would."""

    __slots__ = ("parts",)

    def __init__(self, rendered: str) -> None:
        self.parts = _MARK.split(rendered)  # static, name, static, name, ..., static

    def fill(self, values: dict[str, Any], *, escape_html: bool) -> str:
        out = []
        parts = self.parts
        for i, part in enumerate(parts):
            if i % 2 == 0:
                out.append(part)
                continue
            value = values.get(part, "")
            value = "" if value is None else str(value)
            out.append(str(escape(value)) if escape_html and part not in SAFE_VALUES else value)
        return "".join(out)


class Shells:
    __slots__ = ("html", "subject", "text", "why")

    def __init__(self, *, why: str, subject: Shell, text: Shell, html: Shell) -> None:
        self.why, self.subject, self.text, self.html = why, subject, text, html


class DigestRenderer:
    """Holds the templates and the fragment cache of one run (or one dispatch tick)."""

    def __init__(self, settings: Settings, signer: Signer | None = None, renderer: EmailRenderer | None = None) -> None:
        self.settings = settings
        self.signer = FastSigner(signer or Signer(settings))
        self.renderer = renderer or EmailRenderer(settings)
        self.base_url = settings.base_url.rstrip("/")
        html_env, text_env = self.renderer.html_env, self.renderer.text_env
        self._html = html_env.get_template(f"email/{TEMPLATE}.html")
        self._text = text_env.get_template(f"email/{TEMPLATE}.txt")
        self._subject = text_env.get_template(f"email/{TEMPLATE}.subject.txt")
        self._html_env, self._text_env = html_env, text_env
        self._fragments: dict[tuple[str, int], tuple[Markup, str]] = {}
        self._sizes: dict[tuple[str, int], int] = {}
        self._frames: dict[tuple[str, int], tuple[str, str, str, str]] = {}
        self._shells: dict[tuple[str, str], Shells] = {}
        self.postal = settings.mail_postal_address

    def fragment(self, section: Section, item: Any) -> tuple[Markup, str]:
        key = (section.key, item.id)
        cached = self._fragments.get(key)
        if cached is not None:
            return cached
        name = SECTION_TEMPLATES[section.key]
        nr_url = f"{self.base_url}/digests/hide/{NR_PLACEHOLDER}/{section.item_kind}-{item.id}"
        ctx = {**section.fragment_context(item), "nr_url": nr_url, "section_key": section.key}
        html = self._html_env.get_template(f"{name}.html").render(ctx)
        text = self._text_env.get_template(f"{name}.txt").render(ctx)
        if section.key == "internships":
            # The internships domain's section template has no "not relevant" link: add ours after each item.
            html = (
                _strip_heading_html(html)
                + f'<p><a href="{nr_url}" style="color:#3d4a43;font-size:13px;">Not relevant to me</a></p>\n'
            )
            text = _strip_heading_text(text).rstrip("\n") + f"\nNot relevant? {nr_url}\n"
        result = (Markup(html), text)
        self._fragments[key] = result
        return result

    def _section_frame(self, section: Section, more: int) -> tuple[str, str, str, str]:
        """A section's heading and "more" line around its items, rendered once per (section, more)."""
        key = (section.key, more)
        frame = self._frames.get(key)
        if frame is None:
            ctx = {
                "title": section.title,
                "more": more,
                "more_text": more_text(more),
                "more_url": self.base_url + section.more_url,
                "items": Markup(ITEMS_MARK),
            }
            html = self._html_env.get_template("email/_digest_section.html").render(ctx)
            text = self._text_env.get_template("email/_digest_section.txt").render({**ctx, "items": ITEMS_MARK})
            frame = (*html.split(ITEMS_MARK, 1), *text.split(ITEMS_MARK, 1))
            self._frames[key] = frame  # type: ignore[assignment]
        return frame  # type: ignore[return-value]

    def _shell(self, period_key: str, frequency: str) -> Shells:
        key = (period_key, frequency)
        shells = self._shells.get(key)
        if shells is None:
            try:
                period_label = parse(period_key).label()
            except PeriodError:
                period_label = ""
            why = f"You get this because you subscribed to Roundtable's {frequency} digest and confirmed your address."
            marks = {name: Markup(f"\x00{name}\x00") for name in SHELL_VALUES}
            ctx = {**marks, "frequency": frequency, "period_label": period_label, "postal_address": self.postal}
            shells = Shells(
                why=why,
                subject=Shell(self._subject.render(ctx)),
                text=Shell(self._text.render({k: str(v) for k, v in ctx.items()})),
                html=Shell(self._html.render(ctx)),
            )
            self._shells[key] = shells
        return shells

    def fragment_bytes(self, section: Section, item: Any) -> int:
        """What this item adds to a digest's SendGrid substitutions (HTML + text, JSON-escaped, with the token)."""
        key = (section.key, item.id)
        size = self._sizes.get(key)
        if size is None:
            html, text = self.fragment(section, item)
            size = len(json.dumps(str(html), ensure_ascii=False)) + len(json.dumps(text, ensure_ascii=False))
            size += 2 * (TOKEN_LENGTH - len(NR_PLACEHOLDER))
            self._sizes[key] = size
        return size

    def render(
        self,
        catalogue: Catalogue,
        context: dict[str, Any],
        *,
        email: str,
        subscription_id: int,
        mailing: str | None,
    ) -> tuple[RenderedEmail, dict[str, str]] | None:
        """The digest for one outbox context, or None when none of its items is still open. Its links name the
        digest stream, not ``mailing`` (the row's recorded mailing): unsubscribing stops every later digest."""
        sections = []
        kept: list[list[Any]] = []
        for key, ids, more in context.get("sections", []):
            section = BY_KEY.get(key)
            if section is None:
                continue
            items = section.items(catalogue)
            html_parts, text_parts, kept_ids = [], [], []
            for item_id in ids:
                item = items.get(item_id)
                if item is None:
                    continue  # closed or withdrawn since the digest was built
                h, t = self.fragment(section, item)
                html_parts.append(h)
                text_parts.append(t)
                kept_ids.append(item_id)
            if kept_ids:
                kept.append([key, kept_ids, more])
                head_html, tail_html, head_text, tail_text = self._section_frame(section, int(more or 0))
                sections.append(
                    {
                        "html": head_html + "".join(html_parts) + tail_html,
                        "text": head_text + "\n".join(text_parts) + tail_text,
                    }
                )
        if not sections:
            return None
        frequency = str(context.get("frequency", "weekly"))
        shell = self._shell(str(context.get("period", "")), frequency)
        footer = compliance.bulk_context(self.signer, self.settings, email, compliance.DIGEST_STREAM, shell.why)
        name = " ".join(str(context.get("name") or "").split())
        text_summary = summary(kept)
        values = {
            **footer,
            "name_part": f" {name}" if name else "",
            "summary": text_summary,
            "subject_summary": text_summary[:1].upper() + text_summary[1:],
            "sections_html": "".join(s["html"] for s in sections),
            "sections_text": "".join(s["text"] for s in sections),
        }
        token = not_relevant_token(self.signer, subscription_id)
        subject = " ".join(shell.subject.fill(values, escape_html=False).split())
        text = shell.text.fill(values, escape_html=False).replace(NR_PLACEHOLDER, token)
        html = shell.html.fill(values, escape_html=True).replace(NR_PLACEHOLDER, token)
        headers = compliance.list_unsubscribe_headers(self.signer, self.settings, email, compliance.DIGEST_STREAM)
        return RenderedEmail(subject=subject, text=text, html=html), headers


def render_claimed(
    session: Session, rows: list[m.OutboxMessage], settings: Settings, now: dt.datetime | None = None
) -> dict[int, tuple[RenderedEmail, dict[str, str]] | str]:
    """The dispatcher's hook for ``digest`` rows: render each claimed row, or say why it cannot go out.

    Loads the open items once for the whole claim (a few statements), renders fragments once, then one shell
    per row. A row whose rendering raises fails alone: the error is returned for the outbox row and recorded
    as a ``DigestFailure`` of its run.
    """
    now = now or dt.datetime.now(dt.UTC)
    catalogue = Catalogue(session, now, settings.base_url)
    wanted = {key for r in rows for key, _ids, _more in (r.context or {}).get("sections", [])}
    for key in wanted:
        if key in BY_KEY:
            BY_KEY[key].load(catalogue)
    renderer = DigestRenderer(settings)
    out: dict[int, tuple[RenderedEmail, dict[str, str]] | str] = {}
    failures = []
    for row in rows:
        context = row.context or {}
        try:
            result = renderer.render(
                catalogue, context, email=row.recipient, subscription_id=row.subscription_id or 0, mailing=row.mailing
            )
        except Exception as exc:  # one subscriber's bad data or template error must not stop the others
            log.exception("digest for outbox row %s could not be rendered", row.id)
            error = f"could not render the digest: {exc!r}"[:2000]
            out[row.id] = error
            failures.append(
                {
                    "run_id": context.get("run"),
                    "subscription_id": row.subscription_id,
                    "period": str(context.get("period", ""))[:20],
                    "stage": "render",
                    "error": error,
                    "created_at": now,
                }
            )
            continue
        out[row.id] = result if result is not None else "nothing left to send: every item closed since it was queued"
    if failures:
        session.execute(insert(m.DigestFailure), failures)
        by_run: dict[int, int] = {}
        for f in failures:
            if f["run_id"]:
                by_run[f["run_id"]] = by_run.get(f["run_id"], 0) + 1
        for run_id, count in by_run.items():
            session.execute(
                update(m.DigestRun)
                .where(m.DigestRun.id == run_id)
                .values(failed=m.DigestRun.failed + count, sent=m.DigestRun.sent - count)
            )
    return out
