"""What every digest section shares: the run's catalogue of open items, the subscriber as matching sees it, and
the ``Section`` interface a new section implements.

A section loads its open items ONCE per run (through ``Catalogue.once``, so two sections reading the same items,
like "new calls" and "closing soon", share one load), then matches each subscriber in memory. Item fragments
(HTML and text) are rendered once per run by ``crm.digests.render``; a subscriber's digest is a thin shell
around them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import String, cast, func, literal_column
from sqlalchemy.orm import Session


@dataclasses.dataclass(slots=True)
class SubscriberView:
    """One active subscription, as loaded by the batch query (no ORM object)."""

    id: int
    email: str
    name: str
    mailings: frozenset[str]
    topics: frozenset[int]
    regions: frozenset[int]
    funders: frozenset[int]
    only_vcse: bool
    filters: dict[str, Any]
    sent: dict[str, set[int]]  # ledger: ledger kind -> item ids already delivered
    hidden: dict[str, set[int]]  # "not relevant": item kind -> item ids

    @property
    def match_key(self) -> tuple[Any, ...]:
        return (self.topics, self.regions, self.funders, self.only_vcse)


class Catalogue:
    """The open items of one run (or one dispatch tick), loaded once and shared by every section."""

    def __init__(self, session: Session, now: dt.datetime, base_url: str, since: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now
        # The start of the run's period (the previous period's cut-off), for sections whose items belong to one
        # period (news); None when rendering at dispatch, where items are looked up by id.
        self.since = since
        self.base_url = base_url.rstrip("/")
        self._loaded: dict[str, Any] = {}
        # Subscribers with the same filters share candidate lists (Zipf-skewed topics make this common).
        self.match_cache: dict[Any, Any] = {}
        # (section key, item id) -> rendered fragment (crm.digests.render): items are this catalogue's, so an
        # item edited since an earlier claim is looked up again under its new content.
        self.fragments: dict[tuple[str, int], Any] = {}
        self.item_maps: dict[str, dict[int, Any]] = {}  # section key -> its items by id (rendering looks up)

    def once(self, name: str, loader: Callable[[Catalogue], Any]) -> Any:
        if name not in self._loaded:
            self._loaded[name] = loader(self)
        return self._loaded[name]

    def release_session(self) -> None:
        """Loaded: the catalogue no longer needs the session (it must not hold a read transaction open)."""
        self.session = None  # type: ignore[assignment]


class Item:
    """Base of the items sections show: ``id``, ``published_at`` and a pre-formatted ``title``/``url``.

    Subclasses list their fields in ``__slots__`` and are built by keyword; a field not given is None."""

    __slots__ = ()
    id: int
    title: str
    url: str
    published_at: dt.datetime | None

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class Section:
    """A digest section. Subclasses set the class attributes and implement ``candidates``.

    - ``key``: names the section in the outbox context and the templates (``email/_section_<key>.html|.txt``).
    - ``item_kind``: what a "not relevant" click hides (``call``, ``event``, ``internship``).
    - ``ledger_kind``: what the delivery ledger records; an item is never sent twice under the same ledger kind
      (the closing-soon reminder has its own kind so a call can be "new" once and "closing soon" once).
    - ``mailing``: the ``m.Mailing`` a subscriber must receive for this section to appear.
    - ``limit``: at most this many items in one digest (the rest wait for the next one; the email says so).
    - ``source``: ``(name, loader)``: the run's open items, loaded once under ``name`` (sections over the same
      items name the same source and share one load).
    """

    key: str = ""
    title: str = ""
    item_kind: str = ""
    ledger_kind: str = ""
    mailing: str = ""
    limit: int = 5
    more_url: str = ""
    # Candidates computed afresh per subscriber (the builder keeps no per-filter-set prefix for them): for
    # sections whose matching is cheaper than building and looking up a cache key.
    direct: bool = False
    source: tuple[str, Callable[[Catalogue], Any]]

    def open_items(self, catalogue: Catalogue) -> Any:
        """What ``source`` loaded for this run (loading it the first time)."""
        name, loader = self.source
        return catalogue.once(name, loader)

    def load(self, catalogue: Catalogue) -> None:
        self.open_items(catalogue)

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        """Items matching the subscriber's filters, best first (ledger, hidden and cut-off are applied later)."""
        raise NotImplementedError

    def items(self, catalogue: Catalogue) -> dict[int, Any]:
        """Every loaded item by id (dispatch-time rendering looks items up here)."""
        return {item.id: item for item in self.open_items(catalogue)}

    def cache_key(self, sub: SubscriberView) -> Any:
        """What ``candidates`` depends on: subscribers with equal keys get the same candidates."""
        return sub.match_key

    def ledger_kinds(self) -> tuple[str, ...]:
        return (self.ledger_kind,)

    def batch_columns(self, dialect: str, since: dt.datetime | None) -> dict[str, Any]:
        """What this section must know per subscriber beyond the common fields: labelled correlated scalar
        subqueries (on ``m.Subscription``) that the engine adds to its one batch SELECT, so a section never costs a
        statement per batch. ``since`` is the period's start (None: any time). Labels must be unique."""
        return {}

    def absorb(self, view: SubscriberView, row: Any) -> None:
        """Read this section's ``batch_columns`` from a batch row into the subscriber's view."""

    def fragment_context(self, item: Any) -> dict[str, Any]:
        """What ``email/_section_<key>_item.(html|txt)`` needs for one item (rendered once per run)."""
        return {"it": item}


def string_agg(dialect: str, expr: Any) -> Any:
    """A comma-separated aggregate of ``expr`` (the batch SELECT's correlated lists: topics, ledger...)."""
    if dialect == "postgresql":
        return func.string_agg(cast(expr, String), literal_column("','"))
    return func.group_concat(expr, ",")


def clip(text: str | None, limit: int) -> str:
    """Collapse whitespace and cut long values (a 300-character funder name) with an ellipsis."""
    value = " ".join((text or "").split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"
