"""The points where one domain lends a hand to another, and the one object that carries them.

The directory shows other domains' sections on an organisation's page, asks them whether an organisation may be
deleted and lets them resolve clashes when two records merge; the dispatcher renders some kinds of email late
(digests). Those services sit below the domains that answer them, so they cannot import them: they take an
``Extensions`` argument instead. ``crm.domains`` (the manifest) builds the one instance from what each domain
declares; the web app hands it to handlers as the ``ext`` dependency, and the CLI and the worker keep it in their
``Runtime``. Tests build it from the manifest too, so a hook missing from the manifest is missing in the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session


@dataclasses.dataclass(frozen=True, slots=True)
class Section:
    """A block another domain adds to an organisation's page, rendered with ``{% include template %}``."""

    title: str
    template: str
    context: dict[str, Any]


SectionProvider = Callable[[Session, int], list[Section]]
ReferenceProvider = Callable[[Session, int], list[str]]
MergeHook = Callable[[Session, int, int], None]
# (session, claimed OutboxMessage rows of one kind, settings, now) -> {row id: (RenderedEmail, headers) or an error}.
# Plain types only: Litestar resolves the hints of whatever a dependency returns.
DeferredRenderer = Callable[[Session, list[Any], Any, dt.datetime], dict[int, object]]


@dataclasses.dataclass(frozen=True, slots=True)
class Extensions:
    public_sections: Sequence[SectionProvider] = ()
    admin_sections: Sequence[SectionProvider] = ()
    references: Sequence[ReferenceProvider] = ()
    merge_organisations: Sequence[MergeHook] = ()
    merge_contacts: Sequence[MergeHook] = ()
    deferred_renderers: Mapping[str, DeferredRenderer] = dataclasses.field(default_factory=dict)


NO_EXTENSIONS = Extensions()
