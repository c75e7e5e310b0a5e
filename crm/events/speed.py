"""Speed networking (issue 20.5): rounds of pairings for an event of that format, mixing VCSE and academic
attendees, with no pair meeting twice.

Each round pairs every VCSE attendee with someone from the other side they have not met yet (the starting point
turns by one each round, so partners rotate like a Latin square), then pairs whoever is left among themselves,
still never repeating a pair; an odd one out takes a break (whoever has rested most is paired first, so breaks
are shared out). Rounds stop early when no new pair is possible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import models as m
from crm.events.attendees import primary_organisation
from crm.events.networking import coming

MAX_ROUNDS = 20


@dataclasses.dataclass(frozen=True, slots=True)
class Seat:
    invitation_id: int
    name: str
    organisation: str
    is_vcse: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Round:
    number: int
    pairs: list[tuple[Seat, Seat]]
    resting: list[Seat]

    @property
    def mixed(self) -> int:
        return sum(1 for a, b in self.pairs if a.is_vcse != b.is_vcse)


def seats(session: Session, event_id: int) -> list[Seat]:
    """Everyone coming (said yes, not recorded absent), in name order: one statement."""
    rows = session.execute(
        select(m.Invitation.id, m.Contact.name, primary_organisation().label("organisation"), m.Invitation.is_vcse)
        .join(m.Contact, m.Contact.id == m.Invitation.contact_id)
        .where(m.Invitation.event_id == event_id, coming())
        .order_by(m.Contact.name, m.Invitation.id)
    )
    return [Seat(r.id, r.name, r.organisation or "", bool(r.is_vcse)) for r in rows]


def _key(a: Seat, b: Seat) -> frozenset[int]:
    return frozenset((a.invitation_id, b.invitation_id))


def _take(
    a: Seat,
    pool: list[Seat],
    start: int,
    free: dict[int, Seat],
    met: set[frozenset[int]],
    pairs: list[tuple[Seat, Seat]],
) -> None:
    """Pair ``a`` with the first free person of ``pool`` from ``start`` on whom they have not met."""
    for k in range(len(pool)):
        b = pool[(start + k) % len(pool)]
        if b.invitation_id in free and b.invitation_id != a.invitation_id and _key(a, b) not in met:
            pairs.append((a, b))
            del free[a.invitation_id], free[b.invitation_id]
            return


def rounds(people: Sequence[Seat], count: int) -> list[Round]:
    """Up to ``count`` rounds (at most ``MAX_ROUNDS``) of pairings with no repeated pair."""
    count = max(1, min(int(count), MAX_ROUNDS))
    vcse = [p for p in people if p.is_vcse]
    others = [p for p in people if not p.is_vcse]
    met: set[frozenset[int]] = set()
    breaks: dict[int, int] = {p.invitation_id: 0 for p in people}
    out: list[Round] = []
    for number in range(count):
        free: dict[int, Seat] = {p.invitation_id: p for p in people}
        pairs: list[tuple[Seat, Seat]] = []
        # The larger side cannot all be paired across: whoever has rested most goes first.
        order = sorted(range(len(vcse)), key=lambda i: -breaks[vcse[i].invitation_id])
        for i in order:
            v = vcse[i]
            if v.invitation_id in free and others:
                _take(v, others, i + number, free, met, pairs)
        left = [p for p in people if p.invitation_id in free]
        # Whoever has rested most is paired first, so the break goes to someone who has had fewer.
        left.sort(key=lambda p: -breaks[p.invitation_id])
        for a in list(left):
            if a.invitation_id in free:
                _take(a, [p for p in left if p.invitation_id in free], 0, free, met, pairs)
        if not pairs:
            break
        resting = [p for p in people if p.invitation_id in free]
        for p in resting:
            breaks[p.invitation_id] += 1
        met |= {_key(a, b) for a, b in pairs}
        out.append(Round(number + 1, pairs, resting))
    return out


def schedule(session: Session, event: m.Event, count: Any) -> list[Round]:
    try:
        wanted = int(str(count))
    except ValueError:
        wanted = 5
    return rounds(seats(session, event.id), wanted)
