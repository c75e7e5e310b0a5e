"""Full-text search over organisations (name + description) behind one function on both databases.

``matches(session, q)`` returns a subquery of ``(id, score)`` for at most ``MATCH_CAP`` matching organisations
(the newest first), higher score = better match. Callers join it to ``organisations`` and add their own filters,
sorting and keyset paging, so a search page is still a single SQL statement.

* SQLite: FTS5 external-content table ``organisations_fts`` (migration 0002), ranked with bm25 (name weighs 10x).
* PostgreSQL: GIN index on a weighted tsvector expression, ranked with ts_rank.

Ranking costs time per matching row, so both back ends take the newest ``MATCH_CAP`` candidates first and rank only
those: a word that appears in every description stays as fast as a rare one (reference/performance.md §5.2).

People type words, not query syntax: the text is cut into word tokens (letters and digits), all must match, and
the last one matches as a prefix ("ment" finds "mental"). Nothing the user types reaches FTS5/tsquery syntax.
"""

from __future__ import annotations

import re

from sqlalchemy import Float, Integer, Subquery, text
from sqlalchemy.orm import Session

MATCH_CAP = 1000
MAX_TERMS = 8

# Keep identical to the index expression in migrations/versions/0002_directory_search_and_import.py.
PG_VECTOR = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B'))"
)


def terms(q: str) -> list[str]:
    return re.findall(r"\w+", (q or "").lower())[:MAX_TERMS]


def matches(session: Session, q: str, cap: int = MATCH_CAP) -> Subquery | None:
    """``(id, score)`` of up to ``cap`` organisations matching ``q``; None when ``q`` has no words."""
    words = terms(q)
    if not words:
        return None
    if session.get_bind().dialect.name == "postgresql":
        query = " & ".join([*words[:-1], words[-1] + ":*"])
        stmt = text(
            "SELECT c.id AS id, ts_rank(c.v, to_tsquery('english', :q))::float8 AS score FROM ("
            f"SELECT organisations.id AS id, {PG_VECTOR} AS v FROM organisations "
            f"WHERE {PG_VECTOR} @@ to_tsquery('english', :q) "
            "ORDER BY organisations.id DESC LIMIT :cap) AS c"
        )
    else:
        query = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
        stmt = text(
            "SELECT rowid AS id, -bm25(organisations_fts, 10.0, 1.0) AS score FROM organisations_fts "
            "WHERE organisations_fts MATCH :q ORDER BY rowid DESC LIMIT :cap"
        )
    return stmt.bindparams(q=query, cap=cap).columns(id=Integer, score=Float).subquery("matches")
