"""Rendering digests: item fragments once per process, a thin per-subscriber shell, footer and headers.

Outbox rows of kind ``digest`` store only what to render (``template="digest"`` and a small ``context`` with the
section keys and item ids); the dispatcher calls ``render_claimed`` for the rows it claimed, so 100,000 digests
do not write 800 MB of bodies. The same code renders the admin preview and (``render_at_build``) the build-time
variant the benchmark compares against.

One ``DigestRenderer`` per process and settings (``renderer_for``): templates compile once, shells and section
frames render once, and item fragments are kept across claims under the item's content (an edited item renders
again). Per digest the work is string assembly around pre-rendered fragments and ONE signed token
(``Signer.digest_token``) shared by every link: unsubscribe, unsubscribe from everything, preferences,
List-Unsubscribe and each "not relevant".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from crm import httpcache
from crm import models as m
from crm.digests.periods import PeriodError, frequency_of, parse
from crm.digests.sections import BY_KEY, Catalogue, Section
from crm.mailing.render import EmailRenderer, RenderedEmail, row_context
from crm.settings import Settings
from crm.tokens import EVERYTHING_SUFFIX, Signer

log = logging.getLogger("crm.digests.render")

TEMPLATE = "digest"
MORE_CAP = 10  # crm.digests.builder stops counting further matches here
NR_PLACEHOLDER = "NRTOKEN0placeholder"
# A digest token is base64 of "<subscription id>:<address>", a dot and 22 characters of MAC: about 34 characters
# for a 7-digit id, plus 4/3 of the address (crm.digests.builder adds that per item and per footer link).
TOKEN_LENGTH = 34
FRAGMENT_CACHE_LIMIT = 50_000  # rendered item fragments kept per process (cleared when full)
SECTION_TEMPLATES = {
    "calls_new": "email/_section_calls",
    "calls_closing": "email/_section_calls",
    "events": "email/_section_events",
    "internships": "email/_section_internships",
    "news": "email/_section_news",
}
ITEM_WORDS = {
    "calls_new": ("new funding call", "new funding calls"),
    "calls_closing": ("call closing soon", "calls closing soon"),
    "events": ("event", "events"),
    "internships": ("internship", "internships"),
    "news": ("news item", "news items"),
}
WHY = "You get this because you subscribed to Roundtable's {frequency} digest and confirmed your address."


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


class Shell:
    """A template rendered once with placeholders, then filled per subscriber by joining its static parts with
    the values ("render once, assemble many", performance.md §4.2). Values arrive ready (HTML ones escaped by the
    caller, as Jinja would); a placeholder not given renders empty, as an undefined Jinja value would."""

    __slots__ = ("names", "parts")

    def __init__(self, rendered: str) -> None:
        self.parts = _MARK.split(rendered)  # static, name, static, name, ..., static
        self.names = self.parts[1::2]

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts[:]
        parts[1::2] = [values.get(name, "") for name in self.names]
        return "".join(parts)


class Shells:
    __slots__ = ("html", "subject", "text", "why", "why_html")

    def __init__(self, *, why: str, subject: Shell, text: Shell, html: Shell) -> None:
        self.why, self.subject, self.text, self.html = why, subject, text, html
        self.why_html = str(escape(why))


# An item's HTML pieces and text pieces around its "not relevant" token, and its substitution bytes.
Fragment = tuple[tuple[str, ...], tuple[str, ...], int]


def _signature(item: Any) -> Any:
    """What an item's fragment depends on: its fields (an item edited between claims renders again)."""
    slots = getattr(type(item), "__slots__", None)
    values = tuple(getattr(item, n, None) for n in slots) if slots else tuple(sorted(vars(item).items()))
    try:
        hash(values)
    except TypeError:
        return repr(values)
    return values


class DigestRenderer:
    """Compiled templates, shells, section frames and item fragments: built once, shared by every claim and run."""

    def __init__(self, settings: Settings, signer: Signer | None = None, renderer: EmailRenderer | None = None) -> None:
        self.settings = settings
        self.signer = signer or Signer(settings)
        self.renderer = renderer or EmailRenderer(settings)
        self.base_url = settings.base_url.rstrip("/")
        html_env, text_env = self.renderer.html_env, self.renderer.text_env
        self._html = html_env.get_template(f"email/{TEMPLATE}.html")
        self._text = text_env.get_template(f"email/{TEMPLATE}.txt")
        self._subject = text_env.get_template(f"email/{TEMPLATE}.subject.txt")
        self._html_env, self._text_env = html_env, text_env
        self._rendered: dict[tuple[str, Any, Any], Fragment] = {}
        self._frames: dict[tuple[str, int], tuple[str, str, str, str]] = {}
        self._shells: dict[tuple[str, str], Shells] = {}
        self.postal = settings.mail_postal_address
        self._mailto = settings.unsubscribe_mailto
        # Links are the base URL and the token, whose characters need no escaping in HTML; a base URL that does
        # (an "&" in it) gets its links escaped for the HTML part.
        self._escape_links = str(escape(self.base_url)) != self.base_url
        self._lock = threading.Lock()

    def _fragment(self, catalogue: Catalogue, section: Section, item: Any) -> Fragment:
        """HTML, text and substitution bytes of one item: once per catalogue (claim or run) a dictionary look-up
        under the item's content, rendered only the first time that content is seen in this process."""
        key = (section.key, item.id)
        found = catalogue.fragments.get(key)
        if found is not None:
            return found
        full_key = (section.key, item.id, _signature(item))
        found = self._rendered.get(full_key)
        if found is None:
            found = self._render_fragment(section, item)
            with self._lock:
                if len(self._rendered) >= FRAGMENT_CACHE_LIMIT:
                    self._rendered.clear()
                self._rendered[full_key] = found
        catalogue.fragments[key] = found
        return found

    def _render_fragment(self, section: Section, item: Any) -> Fragment:
        name = SECTION_TEMPLATES[section.key]
        nr_url = f"{self.base_url}/digests/hide/{NR_PLACEHOLDER}/{section.item_kind}-{item.id}"
        ctx = {**section.fragment_context(item), "nr_url": nr_url, "section_key": section.key}
        html = self._html_env.get_template(f"{name}.html").render(ctx)
        text = self._text_env.get_template(f"{name}.txt").render(ctx)
        if section.key == "internships":
            # The internships domain's item card carries the "not relevant" link inside it (given ``nr_url``), so
            # it reads as this placement's; the text part gets ours after each item.
            html = _strip_heading_html(html)
            text = _strip_heading_text(text).rstrip("\n") + f"\nNot relevant? {nr_url}\n"
        size = len(json.dumps(html, ensure_ascii=False)) + len(json.dumps(text, ensure_ascii=False))
        size += 2 * (TOKEN_LENGTH - len(NR_PLACEHOLDER))
        # Split where the digest's token goes: each digest joins the pieces with its token.
        return tuple(html.split(NR_PLACEHOLDER)), tuple(text.split(NR_PLACEHOLDER)), size

    def fragment(self, section: Section, item: Any) -> tuple[Markup, str]:
        """One item's HTML and text fragments (with the "not relevant" placeholder), outside any claim."""
        html, text, _size = self._render_fragment(section, item)
        return Markup(NR_PLACEHOLDER.join(html)), NR_PLACEHOLDER.join(text)

    def sizer(self, catalogue: Catalogue) -> Any:
        """``size_of(section, item)`` for ``crm.digests.builder.select_items`` over this catalogue: what an item
        adds to a digest's SendGrid substitutions (HTML + text, JSON-escaped, with its token but the address)."""

        def size_of(section: Section, item: Any) -> int:
            return self._fragment(catalogue, section, item)[2]

        return size_of

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
            marks = {name: Markup(f"\x00{name}\x00") for name in SHELL_VALUES}
            ctx = {**marks, "frequency": frequency, "period_label": period_label, "postal_address": self.postal}
            shells = Shells(
                why=WHY.format(frequency=frequency),
                subject=Shell(self._subject.render(ctx)),
                text=Shell(self._text.render({k: str(v) for k, v in ctx.items()})),
                html=Shell(self._html.render(ctx)),
            )
            self._shells[key] = shells
        return shells

    def links(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        """The footer's links and the RFC 8058 headers, all from the digest's one token. Token characters are
        URL- and HTML-safe ([A-Za-z0-9_.~-]), so the values need no escaping."""
        unsubscribe = f"{self.base_url}/u/{token}"
        values = {
            "unsubscribe_url": unsubscribe,
            "unsubscribe_all_url": unsubscribe + EVERYTHING_SUFFIX,
            "preferences_url": f"{self.base_url}/preferences/{token}",
            "bulk_mailing": "digest",
        }
        header = f"<{unsubscribe}>"
        if self._mailto:  # quote("unsubscribe " + token): the token's characters need no quoting
            header += f", <mailto:{self._mailto}?subject=unsubscribe%20{token}>"
        return values, {"List-Unsubscribe": header, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

    def render(
        self,
        catalogue: Catalogue,
        context: dict[str, Any],
        *,
        email: str,
        subscription_id: int,
        mailing: str | None = None,
        name: str = "",
    ) -> tuple[RenderedEmail, dict[str, str]] | None:
        """The digest for one outbox context, or None when none of its items is still open. Its links name the
        digest stream, not ``mailing`` (the row's recorded mailing): unsubscribing stops every later digest.
        ``name`` is the row's ``recipient_name``, for contexts stored without theirs (``engine.stored_context``)."""
        html_sections: list[str] = []
        text_sections: list[str] = []
        kept: list[list[Any]] = []
        token = self.signer.digest_token(subscription_id, email)
        for key, ids, more in context.get("sections", []):
            section = BY_KEY.get(key)
            if section is None:
                continue
            items = catalogue.item_maps.get(key)
            if items is None:
                items = catalogue.item_maps[key] = section.items(catalogue)
            html_parts, text_parts, kept_ids = [], [], []
            for item_id in ids:
                item = items.get(item_id)
                if item is None:
                    continue  # closed or withdrawn since the digest was built
                h, t, _size = self._fragment(catalogue, section, item)
                html_parts.append(token.join(h))
                text_parts.append(token.join(t))
                kept_ids.append(item_id)
            if kept_ids:
                kept.append([key, kept_ids, more])
                head_html, tail_html, head_text, tail_text = self._section_frame(section, int(more or 0))
                html_sections.append(head_html + "".join(html_parts) + tail_html)
                text_sections.append(head_text + "\n".join(text_parts) + tail_text)
        if not kept:
            return None
        period = str(context.get("period", ""))
        shell = self._shell(period, str(context.get("frequency") or frequency_of(period)))
        links, headers = self.links(token)
        name = " ".join(str(context.get("name", name) or "").split())
        name_part = f" {name}" if name else ""
        text_summary = summary(kept)
        subject_summary = text_summary[:1].upper() + text_summary[1:]
        text = shell.text.fill(
            dict(
                links,
                name_part=name_part,
                summary=text_summary,
                sections_text="".join(text_sections),
                why_text=shell.why,
            )
        )
        html = shell.html.fill(
            dict(
                {k: str(escape(v)) for k, v in links.items()} if self._escape_links else links,
                name_part=escape(name_part),
                summary=escape(text_summary),
                sections_html="".join(html_sections),
                why_text=shell.why_html,
            )
        )
        subject = " ".join(shell.subject.fill(dict(subject_summary=subject_summary, summary=text_summary)).split())
        return RenderedEmail(subject=subject, text=text, html=html), headers


_RENDERERS: dict[Settings, DigestRenderer] = {}


def renderer_for(settings: Settings) -> DigestRenderer:
    """The process's renderer for these settings (templates compiled once, not per claim)."""
    renderer = _RENDERERS.get(settings)
    if renderer is None:
        renderer = _RENDERERS[settings] = DigestRenderer(settings)
    return renderer


# What the sections' loaders read (crm.digests.sections): a write to any of them in this process starts a new
# catalogue at once; another process's write (the web app closing a call) is seen within ``httpcache.WINDOW``.
CATALOGUE_TABLES = tuple(
    t.name
    for t in (
        m.FundingCall.__table__,
        m.funding_call_topics,
        m.funding_call_regions,
        m.Organisation.__table__,
        m.Region.__table__,
        m.Topic.__table__,
        m.Event.__table__,
        m.Internship.__table__,
        m.internship_topics,
        m.internship_career_stages,
        m.Campaign.__table__,
    )
)
_catalogues: dict[tuple[str, str], tuple[tuple[str, int], Catalogue]] = {}
_catalogues_lock = threading.Lock()


def _claim_catalogue(session: Session, settings: Settings, now: dt.datetime, wanted: set[str]) -> Catalogue:
    """The open items claims render from: loaded once and shared by the claims that follow (a 100,000-digest
    drain is 100 claims of 1,000; loading per claim cost ~20 us a digest) until a table the sections read is
    written, or ``now`` enters the next ``httpcache.WINDOW`` (an item closed since it was queued drops out then,
    as the house's HTTP caching already accepts for a write by another process). Sections load on first use."""
    key = (str(session.get_bind().url), settings.base_url)
    version = (httpcache.stamp(CATALOGUE_TABLES), int(now.timestamp() // httpcache.WINDOW))
    with _catalogues_lock:
        kept = _catalogues.get(key)
        catalogue = kept[1] if kept is not None and kept[0] == version else Catalogue(session, now, settings.base_url)
        _catalogues[key] = (version, catalogue)
        missing = [BY_KEY[k] for k in wanted if k in BY_KEY and k not in catalogue.item_maps]
        if missing:
            catalogue.session = session
            for section in missing:
                section.load(catalogue)
                catalogue.item_maps[section.key] = section.items(catalogue)
            catalogue.release_session()
    return catalogue


def render_claimed(
    session: Session, rows: list[Any], settings: Settings, now: dt.datetime | None = None
) -> dict[int, tuple[RenderedEmail, dict[str, str]] | str]:
    """The dispatcher's hook for ``digest`` rows: render each claimed row, or say why it cannot go out.

    ``rows`` are the claimed outbox rows (ORM objects or Core rows: only the columns ``id``, ``context``,
    ``recipient``, ``recipient_name``, ``subscription_id`` and ``mailing`` are read). Loads the open items once for the whole claim
    (a few statements; an item closed since the build drops out), then one shell per row. A row whose rendering
    raises fails alone: the error is returned for the outbox row and recorded as a ``DigestFailure`` of its run.
    """
    now = now or dt.datetime.now(dt.UTC)
    contexts = {row.id: row_context(row) for row in rows}
    wanted = {key for c in contexts.values() for key, _ids, _more in c.get("sections", [])}
    catalogue = _claim_catalogue(session, settings, now, wanted)
    renderer = renderer_for(settings)
    out: dict[int, tuple[RenderedEmail, dict[str, str]] | str] = {}
    failures = []
    for row in rows:
        context = contexts[row.id]
        try:
            result = renderer.render(
                catalogue,
                context,
                email=row.recipient,
                subscription_id=row.subscription_id or 0,
                mailing=row.mailing,
                name=row.recipient_name,
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
