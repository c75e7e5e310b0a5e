"""Whom a funding call suits: the words for its type, effort and yes/no/not-stated answers, and the one rule
"suits small user-led groups" that the public list, the API, the feed, the digest and the partner suggestions share.

The rule (issue 19, from a survivor-user network's finding that user-led groups struggle most for core funding,
small sums, light applications and funders who accept unregistered groups): a call suits small user-led groups when

- its funding type is **core** or **small grant**, and
- it is open to **unregistered** groups or to **user-led** groups (a stated yes; "not stated" is not a yes), and
- its application effort is **light**.

``suits_small_user_led`` is the rule over plain values (pages, the digest's in-memory matching, the partner
ranking) and ``suits_condition`` the same rule as SQL (lists, the API, the feed); a test checks that they agree on
every combination. Unstated answers never count in a call's favour: a call only appears under the filter when the
funder has said enough for the fellow to vouch for it.

Answers are tri-state: ``True`` (yes), ``False`` (no), ``None`` (not stated, every existing call's value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from crm import models as m

ANSWERS = ("open_to_unregistered", "open_to_user_led", "match_funding_required", "lived_experience_payment")
FIT_FIELDS = ("funding_type", "application_effort", *ANSWERS)
NOT_STATED = "Not stated"

TYPE_LABELS = {
    m.FundingType.CORE: "Core funding (running costs)",
    m.FundingType.PROJECT: "Project funding",
    m.FundingType.CAPACITY_BUILDING: "Capacity building",
    m.FundingType.SMALL_GRANT: "Small grant",
    m.FundingType.FELLOWSHIP_OR_TRAINING: "Fellowship or training",
    m.FundingType.IN_KIND: "In kind (support rather than money)",
}
EFFORT_LABELS = {
    m.ApplicationEffort.LIGHT: "Light (a short form or a conversation)",
    m.ApplicationEffort.STANDARD: "Standard (a full application form)",
    m.ApplicationEffort.HEAVY: "Heavy (several stages, a detailed proposal or a partnership agreement)",
}
# Each answer as the question pages show beside "Yes", "No" or "Not stated".
ANSWER_LABELS = {
    "open_to_unregistered": "Open to unregistered groups",
    "open_to_user_led": "Open to user-led groups",
    "match_funding_required": "Match funding required",
    "lived_experience_payment": "Pays people for lived-experience involvement",
}
FIELD_LABELS = {"funding_type": "Type of funding", "application_effort": "Application effort", **ANSWER_LABELS}

SUITS_TYPES = frozenset({m.FundingType.CORE, m.FundingType.SMALL_GRANT})
SUITS_LABEL = "Suits small user-led groups"
SUITS_REASON = "core funding or a small grant, open to unregistered or user-led groups, with a light application"
# The query-string name of the filter on /funding-calls, /api/v1/funding-calls and the feed.
FILTER = "suits"
# Where a subscription keeps its funding-digest choice: Subscription.filters["funding_digest"][DIGEST_KEY].
DIGEST_FILTERS_KEY = m.Mailing.FUNDING_DIGEST.value
DIGEST_KEY = "suits_small_user_led"
TRUE_WORDS = frozenset({"1", "yes", "on", "true"})


def _enum(cls: type[Any], value: Any) -> Any:
    if value is None or value == "":
        return None
    try:
        return cls(value)
    except ValueError:
        return None


def suits_small_user_led(
    funding_type: Any, application_effort: Any, open_to_unregistered: bool | None, open_to_user_led: bool | None
) -> bool:
    """The rule over plain values (enum members or their stored values; None = not stated)."""
    return (
        _enum(m.FundingType, funding_type) in SUITS_TYPES
        and _enum(m.ApplicationEffort, application_effort) == m.ApplicationEffort.LIGHT
        and (open_to_unregistered is True or open_to_user_led is True)
    )


def call_suits(call: Any) -> bool:
    """The rule for anything with the four attributes (a model, a selected row)."""
    return suits_small_user_led(
        call.funding_type, call.application_effort, call.open_to_unregistered, call.open_to_user_led
    )


def suits_condition() -> ColumnElement[bool]:
    """The same rule as a WHERE clause on ``funding_calls``."""
    c = m.FundingCall
    return and_(
        c.funding_type.in_(sorted(SUITS_TYPES)),
        c.application_effort == m.ApplicationEffort.LIGHT,
        or_(c.open_to_unregistered.is_(True), c.open_to_user_led.is_(True)),
    )


def wants_suits(filters: Mapping[str, Any]) -> bool:
    """Whether a list's filters (query string) ask for calls that suit small user-led groups."""
    return str(filters.get(FILTER) or "").strip().lower() in TRUE_WORDS


# --- words -------------------------------------------------------------------------------------------------------


def answer_words(value: bool | None) -> str:
    return NOT_STATED if value is None else ("Yes" if value else "No")


def type_words(value: Any) -> str:
    found = _enum(m.FundingType, value)
    return TYPE_LABELS[found] if found is not None else NOT_STATED


def effort_words(value: Any) -> str:
    found = _enum(m.ApplicationEffort, value)
    return EFFORT_LABELS[found] if found is not None else NOT_STATED


def facts(call: Any) -> list[tuple[str, str]]:
    """(question, answer) pairs in plain words for a call's pages, "Not stated" when empty."""
    return [
        (FIELD_LABELS["funding_type"], type_words(call.funding_type)),
        (FIELD_LABELS["application_effort"], effort_words(call.application_effort)),
        *((ANSWER_LABELS[name], answer_words(getattr(call, name))) for name in ANSWERS),
    ]


# --- reading values from forms, files and API bodies ---------------------------------------------------------------

_TYPE_NAMES = {
    **{t.value: t.value for t in m.FundingType},
    **{t.value.replace("-", " "): t.value for t in m.FundingType},
    "core funding": "core",
    "small grants": "small-grant",
    "fellowship": "fellowship-or-training",
    "training": "fellowship-or-training",
    "fellowship/training": "fellowship-or-training",
    "in kind": "in-kind",
    "inkind": "in-kind",
}
NOT_STATED_WORDS = frozenset({"", "not stated", "not-stated", "unknown", "n/a"})


def funding_type_from_text(raw: str) -> str | None:
    """A funding type's stored value from a value or the words people write ("Small grant"); ValueError if
    neither; None for blank or "not stated"."""
    key = " ".join(raw.strip().lower().replace("_", " ").split())
    if key in NOT_STATED_WORDS:
        return None
    if key in _TYPE_NAMES:
        return _TYPE_NAMES[key]
    if key.replace(" ", "-") in _TYPE_NAMES:
        return _TYPE_NAMES[key.replace(" ", "-")]
    raise ValueError(key)


def effort_from_text(raw: str) -> str | None:
    key = raw.strip().lower()
    if key in NOT_STATED_WORDS:
        return None
    if key in {e.value for e in m.ApplicationEffort}:
        return key
    raise ValueError(key)


def answer_from_form(value: str) -> bool | None:
    """A yes / no / not-stated select: "yes" → True, "no" → False, anything else → None."""
    return {"yes": True, "no": False}.get(value)


def answer_for_form(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def funding_filters_from_form(form: Any) -> dict[str, Any]:
    """What a subscribe / preferences form stores in ``Subscription.filters["funding_digest"]``: ``{}`` (every
    matching call) or ``{"suits_small_user_led": true}``."""
    return {DIGEST_KEY: True} if form.bool(DIGEST_KEY) else {}


def digest_wants_suits(filters: Mapping[str, Any] | None) -> bool:
    """Whether a subscription's stored filters ask its funding digest for suitable calls only."""
    stored = (filters or {}).get(DIGEST_FILTERS_KEY)
    return isinstance(stored, Mapping) and stored.get(DIGEST_KEY) is True
