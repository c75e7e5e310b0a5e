"""Involvement vocabulary and small pure rules: labels, money in pence, the closing moment, the consent wording.

Everything here is pure (no database), so the admin (helper B), the public offer form, the API and the network's
alerts all say the same thing the same way: one place parses "£12.50", one place writes "£12.50 per hour".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from crm import models as m
from crm.internships.rules import closes_at_for, format_pence, london_today

__all__ = [
    "BASIS_OPTIONS",
    "COMMITMENT_OPTIONS",
    "INTEREST_CONSENT_WORDING",
    "KIND_OPTIONS",
    "MAX_PAYMENT_PENCE",
    "OPEN_STATUS",
    "RESERVED_SLUGS",
    "closes_at_for",
    "format_pence",
    "is_open",
    "london_today",
    "money_input",
    "parse_money",
    "payment_label",
    "payment_summary",
]

O = m.InvolvementOpportunity  # noqa: E741 - short alias for column expressions
Status = m.OpportunityStatus
OPEN_STATUS = Status.PUBLISHED

# The largest payment one opportunity may state: more is almost always a typo (pence typed as pounds).
MAX_PAYMENT_PENCE = 10_000 * 100

# Paths under /involvement/ that are pages, never an opportunity's slug.
RESERVED_SLUGS = frozenset({"offer", "network", "answer", "manage", "new", "results", "interest"})

KIND_OPTIONS: list[tuple[str, str]] = [(k.value, k.label) for k in m.InvolvementKind]
COMMITMENT_OPTIONS: list[tuple[str, str]] = [(c.value, c.label) for c in m.Commitment]
BASIS_OPTIONS: list[tuple[str, str]] = [(b.value, b.label) for b in m.PaymentBasis]

# What a person agrees to when they express interest; stored on the row with the moment they agreed.
INTEREST_CONSENT_WORDING = (
    "I agree that Roundtable keeps my name, email address and what I write here, and shares them with the people "
    "offering this opportunity so they can contact me about it. I can ask for them to be deleted at any time."
)

_MONEY_EXAMPLE = "Enter an amount in pounds, like 12.50 or £25."


def parse_money(raw: str) -> int:
    """Pounds as typed ("12.50", "£1,200", "25") → pence. Raises ValueError with a message people can act on.

    Refused: empty text, anything that is not a number, negatives, zero, more than two decimal places, and more
    than £10,000 (almost always pence typed as pounds).
    """
    cleaned = (raw or "").replace("£", "").replace(",", "").replace(" ", "").strip()
    if not cleaned:
        raise ValueError(_MONEY_EXAMPLE)
    if cleaned.lower().endswith("p") and cleaned[:-1].isdigit():
        raise ValueError("Enter the amount in pounds, not pence: 50p is 0.50.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(_MONEY_EXAMPLE) from exc
    if not value.is_finite():
        raise ValueError(_MONEY_EXAMPLE)
    if value < 0:
        raise ValueError("The amount cannot be negative.")
    if value == 0:
        raise ValueError("A paid opportunity needs an amount above £0. If it is unpaid, choose “expenses only”.")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("Use at most two decimal places, like 12.50.")
    pence = int(value * 100)
    if pence > MAX_PAYMENT_PENCE:
        raise ValueError("That is more than £10,000. Check the amount is in pounds, like 12.50.")
    return pence


def money_input(pence: int | None) -> str:
    """What a form field shows for a stored amount: "12.50" (no pound sign, it sits beside the field)."""
    return "" if pence is None else f"{Decimal(pence) / 100:.2f}"


def payment_label(pence: int | None, basis: m.PaymentBasis | str | None) -> str:
    """ "£12.50 per hour"; "Paid" when no amount is known; the basis alone never shows without an amount."""
    if pence is None:
        return "Paid"
    if basis is None or basis == "":
        return format_pence(pence)
    return f"{format_pence(pence)} {m.PaymentBasis(basis).label}"


def payment_summary(row: Any) -> str:
    """One plain line about money for lists and alerts: "£25 per meeting, plus expenses" / "Expenses only"."""
    if row.paid:
        text = payment_label(row.payment_pence, row.payment_basis)
        return f"{text}, plus expenses" if row.expenses_covered else text
    return "Expenses only" if row.expenses_covered else "Unpaid"


def is_open(status: m.OpportunityStatus | str, closes_at: dt.datetime, now: dt.datetime) -> bool:
    """Open to interest: published and before the end of its closing date (the closing job may not have run)."""
    return Status(status) == OPEN_STATUS and closes_at > now
