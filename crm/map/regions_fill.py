"""Fill the empty region of existing organisations from their postcode (``crm map fill-regions``).

New and edited organisations get theirs as they are saved (``crm.directory.organisations.clean_identifiers``, the
one check shared by the forms, the API and the CSV import); this is for rows saved before that, or imported with a
postcode and no region. The region comes from ``crm.directory.postcode_regions.region_for_postcode``: the district
(outward code) where a cross-border area's districts are listed, else the postcode area's region. An organisation that already has a region is never changed.
Each filled row gets an audit entry ("Region: (empty) -> North West", actor "system").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm import models as m
from crm.directory import postcode_regions

BATCH = 500


@dataclasses.dataclass
class FillResult:
    checked: int = 0  # organisations without a region that have a postcode
    filled: int = 0
    no_region: int = 0  # postcode outside the UK's regions (Jersey, Guernsey, Isle of Man) or unknown area


def fill_regions(
    session: Session, *, apply: bool = True, progress: Callable[[FillResult], None] | None = None
) -> FillResult:
    """Walk organisations without a region in id order, ``BATCH`` at a time (memory stays flat); ``apply=False``
    counts what would be filled and writes nothing."""
    regions = {
        code: (rid, name) for rid, code, name in session.execute(select(m.Region.id, m.Region.code, m.Region.name))
    }
    o = m.Organisation
    result = FillResult()
    last_id = 0
    while True:
        rows = session.execute(
            select(o.id, o.postcode)
            .where(o.region_id.is_(None), o.postcode != "", o.id > last_id)
            .order_by(o.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        changes = []
        for row in rows:
            result.checked += 1
            code = postcode_regions.region_for_postcode(row.postcode)
            if code is None or code not in regions:
                result.no_region += 1
                continue
            changes.append((row.id, *regions[code]))
        if apply and changes:
            session.execute(update(o), [{"id": oid, "region_id": rid} for oid, rid, _ in changes])
            for oid, _, name in changes:
                audit.record(
                    session, None, "updated", "organisation", oid,
                    summary="Region filled from the postcode", changes={"region": [None, name]},
                )  # fmt: skip
            session.flush()
        result.filled += len(changes)
        if progress is not None:
            progress(result)
    return result
