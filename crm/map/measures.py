"""What the map can show: each measure's label, where its figures are stored (a tally measure and sub-key,
``crm.map.counting``) and the list each region links to.

The figures themselves are counted by the map's job into ``map_tallies`` (``crm.map.tally``); how national items
are counted is in ``crm.map.counting`` and docs/map.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from crm import models as m
from crm.directory.taxonomy import CATEGORY_LABELS, KIND_LABELS
from crm.map import counting

Links = Callable[[str, str, bool], str | None]  # (region slug, topic slug, admin) -> list URL


@dataclasses.dataclass(frozen=True)
class Measure:
    key: str
    label: str  # "Charity or community group (VCSE)"
    group: str  # the <optgroup> it is listed under
    noun: str  # "organisations"
    tally: str  # the stored measure it is read from (crm.map.counting: ORGANISATIONS, CALLS, ...)
    sub_key: str  # within it: a kind, category or stage; "" for none
    link: Links
    admin_only: bool = False
    national_everywhere: bool = False  # True: ``national`` is added to every tile; False: shown apart
    national_label: str = "UK-wide"
    unplaced_label: str = "No region"

    def source(self, public: bool) -> tuple[str, str]:
        """The stored (measure, sub-key) its figures are read from, for the public map or the fellow's."""
        return counting.tally_name(self.tally, public), self.sub_key


def _query(base: str, filters: dict[str, str], region: str, topic: str) -> str:
    pairs = {**filters, "region": region, **({"topic": topic} if topic else {})}
    return base + "?" + "&".join(f"{k}={v}" for k, v in pairs.items() if v)


def organisation_links(**filters: str) -> Links:
    def link(region: str, topic: str, admin: bool) -> str:
        return _query("/admin/organisations" if admin else "/organisations", filters, region, topic)

    return link


def _fixed(url: str) -> Links:
    """A list without a region filter: every tile links to the whole list (topic kept where it filters)."""
    return lambda region, topic, admin: url


def _list(public: str, admin_url: str | None = None) -> Links:
    def link(region: str, topic: str, admin: bool) -> str:
        return _query(admin_url if admin and admin_url else public, {}, region, topic)

    return link


# ---------------------------------------------------------------------------------------------- the list

ORGS = "Organisations"
GROUPS = "Involvement groups"
ACTIVITY = "Calls, events and internships"
FELLOW = "Partnerships and subscribers"


def _organisation_measures() -> list[Measure]:
    """Organisations and involvement groups: one stored sub-key each (``counting.organisation_subsets``)."""
    kinds = {f"kind-{k.value}": label for k, label in KIND_LABELS.items()}
    categories = {f"category-{c.value}": label for c, label in CATEGORY_LABELS.items()}
    groups = {"user-led": "Led by service users", "lived-experience-led": "Led by people with lived experience"}
    filters = {
        **{key: {"kind": key.removeprefix("kind-")} for key in kinds},
        "user-led": {"user_led": "1"},
        "lived-experience-led": {"lived_experience_led": "1"},
        **{key: {"category": key.removeprefix("category-")} for key in categories},
    }
    out = [
        Measure(
            "organisations",
            "All organisations",
            ORGS,
            "organisations",
            counting.ORGANISATIONS,
            "organisations",
            _list("/organisations", "/admin/organisations"),
        )
    ]
    for key, label, group, noun in [
        *((k, label, ORGS, "organisations") for k, label in kinds.items()),
        *((k, label, GROUPS, "groups") for k, label in groups.items()),
        *((k, label, GROUPS, "groups") for k, label in categories.items()),
    ]:
        out.append(Measure(key, label, group, noun, counting.ORGANISATIONS, key, organisation_links(**filters[key])))
    return out


def _measures() -> list[Measure]:
    fellow = {"admin_only": True, "national_label": "With a UK-wide member", "unplaced_label": "Members have no region"}
    return [
        *_organisation_measures(),
        Measure(
            "funding-calls",
            "Open funding calls",
            ACTIVITY,
            "calls",
            counting.CALLS,
            "",
            # The public list for the fellow too: it holds exactly the open calls (the admin list has drafts and
            # closed ones), and its region filter keeps the calls tagged UK-wide, as each tile counts them.
            _list("/funding-calls"),
            national_everywhere=True,
            national_label="calls tagged UK-wide",
            unplaced_label="Calls naming no region",
        ),
        Measure(
            "events",
            "Upcoming events",
            ACTIVITY,
            "events",
            counting.EVENTS,
            "",
            _fixed("/events"),
            national_everywhere=True,
            national_label="events hosted by UK-wide organisations",
            unplaced_label="Host has no region, or no host",
        ),
        Measure(
            "internships",
            "Open internships",
            ACTIVITY,
            "internships",
            counting.INTERNSHIPS,
            "",
            _list("/internships"),
            national_everywhere=True,
            national_label="UK-wide internships",
        ),
        Measure(
            "partnerships",
            "Live partnerships (idea to active)",
            FELLOW,
            "partnerships",
            counting.PARTNERSHIPS,
            counting.LIVE,
            _fixed("/admin/partnerships"),
            **fellow,
        ),
        *(
            Measure(
                f"partnerships-{s.value}",
                f"Partnerships at {s.value}",
                FELLOW,
                "partnerships",
                counting.PARTNERSHIPS,
                s.value,
                _fixed(f"/admin/partnerships?stage={s.value}"),
                **fellow,
            )
            for s in m.PartnershipStage
        ),
        Measure(
            "subscribers",
            "Subscribers (active)",
            FELLOW,
            "subscribers",
            counting.SUBSCRIBERS,
            "",
            _fixed("/admin/subscribers"),
            admin_only=True,
            national_everywhere=True,
            national_label="subscribers who chose no region, or UK-wide",
        ),
    ]


MEASURES: dict[str, Measure] = {measure.key: measure for measure in _measures()}
DEFAULT = "organisations"


def available(admin: bool) -> list[Measure]:
    return [measure for measure in MEASURES.values() if admin or not measure.admin_only]


def pick(key: str | None, admin: bool) -> Measure:
    """The measure asked for, or the default for an unknown or not-allowed key (a select filter, never an error)."""
    measure = MEASURES.get(key or "")
    if measure is None or (measure.admin_only and not admin):
        return MEASURES[DEFAULT]
    return measure
