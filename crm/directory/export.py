"""Streaming CSV export of any filtered organisation or contact list.

Rows are read in id order in batches of ``BATCH`` (keyset on id), so memory stays flat for any list size. Cells that
a spreadsheet would run as a formula (starting with = + - @) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from crm import models as m
from crm.directory import queries
from crm.directory.contacts import contact_list_query
from crm.listing import ListParams

BATCH = 500

ORG_HEADER = [
    "organisation_name", "kind", "vcse_category", "user_led", "lived_experience_led", "description", "website",
    "public_email", "region", "postcode", "charity_number", "topics", "review_status", "visibility", "slug",
]  # fmt: skip
PUBLIC_ORG_HEADER = [c for c in ORG_HEADER if c not in {"review_status", "visibility", "charity_number"}]
CONTACT_HEADER = ["contact_name", "contact_email", "contact_phone", "contact_job_title", "contact_career_stage",
                  "organisation_name"]  # fmt: skip


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "value"):
        value = value.value
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


PAGE_ROWS = 5000  # rows per page of a download made in a worker process (~200 kB of CSV, one trip each)


def _batches(session: Session, query: Any, id_column: Any, after: int = 0) -> Iterator[Any]:
    last = after
    while True:
        rows = list(session.execute(query.where(id_column > last).order_by(id_column).limit(BATCH)))
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _org_query(session: Session, params: ListParams, public: bool, ids: Sequence[int] | None) -> tuple[Any, Any]:
    query, id_column = queries.rows_query(
        session, params, public=public, extra=("public_email", "postcode", "charity_number")
    )
    return (query if ids is None else query.where(id_column.in_(list(ids)))), id_column


def _org_cells(r: Any, header: list[str]) -> list[str]:
    full = {
        "organisation_name": r.name,
        "kind": r.kind,
        "vcse_category": r.vcse_category,
        "user_led": r.user_led,
        "lived_experience_led": r.lived_experience_led,
        "description": r.description,
        "website": r.website,
        "public_email": r.public_email,
        "region": r.region_name,
        "postcode": r.postcode,
        "charity_number": r.charity_number,
        "topics": r.topic_names,
        "review_status": r.review_status,
        "visibility": r.visibility,
        "slug": r.slug,
    }
    return [safe_cell(full[c]) for c in header]


def organisation_rows(
    session: Session, params: ListParams, *, public: bool, ids: Sequence[int] | None = None
) -> Iterator[list[str]]:
    """The list's rows; ``ids`` keeps only those (a bulk selection)."""
    query, id_column = _org_query(session, params, public, ids)
    header = PUBLIC_ORG_HEADER if public else ORG_HEADER
    yield header
    for r in _batches(session, query, id_column):
        yield _org_cells(r, header)


def organisation_csv_page(
    session: Session,
    params: ListParams,
    public: bool,
    ids: Sequence[int] | None,
    after: int | None,
    rows: int = PAGE_ROWS,
) -> tuple[bytes, int | None]:
    """One page of ``organisation_rows`` as CSV bytes, for a download made in a worker process, as
    ``contact_csv_page`` is for contacts: the pages joined are byte for byte ``organisation_rows`` as CSV."""
    query, id_column = _org_query(session, params, public, ids)
    header = PUBLIC_ORG_HEADER if public else ORG_HEADER
    return _page(session, query, id_column, after, rows, header, lambda r: _org_cells(r, header))


def _contact_query(session: Session, params: ListParams, ids: Sequence[int] | None) -> Any:
    query, _ = contact_list_query(session, params)
    return query if ids is None else query.where(m.Contact.id.in_(list(ids)))


def _contact_cells(r: Any) -> list[str]:
    return [safe_cell(v) for v in (r.name, r.email, r.phone, r.job_title, r.career_stage, r.organisation_name)]


def contact_rows(session: Session, params: ListParams, ids: Sequence[int] | None = None) -> Iterator[list[str]]:
    """The list's rows; ``ids`` keeps only those (a bulk selection)."""
    query = _contact_query(session, params, ids)
    yield CONTACT_HEADER
    for r in _batches(session, query, m.Contact.id):
        yield _contact_cells(r)


def contact_csv_page(
    session: Session, params: ListParams, ids: Sequence[int] | None, after: int | None, rows: int = PAGE_ROWS
) -> tuple[bytes, int | None]:
    """One page of ``contact_rows`` as CSV bytes, for a download made in a worker process (``crm.web.offload``):
    ``after=None`` is the first page (with the header), then the id of the page's last row; returns the page and the
    ``after`` of the next one (None after the last). The pages joined are byte for byte ``contact_rows`` as CSV:
    the same query, the same id order, the same cells."""
    return _page(
        session, _contact_query(session, params, ids), m.Contact.id, after, rows, CONTACT_HEADER, _contact_cells
    )


def _page(
    session: Session,
    query: Any,
    id_column: Any,
    after: int | None,
    rows: int,
    header: list[str],
    cells: Callable[[Any], list[str]],
) -> tuple[bytes, int | None]:
    """Up to ``rows`` rows after the id ``after`` (None: the first page, with the header) as CSV bytes, and the
    ``after`` of the next page (None after the last): the same batches, order and cells as the whole download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if after is None:
        writer.writerow(header)
    last, n = after or 0, 0
    for r in _batches(session, query, id_column, last):
        writer.writerow(cells(r))
        last, n = r.id, n + 1
        if n == rows:
            break
    return buffer.getvalue().encode(), (last if n == rows else None)


def as_csv_chunks(rows: Iterator[list[str]], lines_per_chunk: int = 1000) -> Iterator[bytes]:
    """CSV text in chunks of ``lines_per_chunk`` lines (tens of kB). Litestar reads a sync iterator one chunk per trip
    to its thread pool, so each chunk is one hop off the event loop: few enough hops that a 100k-row export does not
    crowd the loop, small enough that memory stays flat (issue 21.2)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % lines_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue().encode()
