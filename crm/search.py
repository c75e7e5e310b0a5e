"""Full-text search behind one function on both databases, with the cost of ranking bounded.

``matches(session, index, q)`` returns a subquery of ``(id, score)`` for at most ``MATCH_CAP`` rows of
``index.table`` matching ``q`` (the newest first), higher score = better match. Callers join it to the table and
add their own filters, sorting and keyset paging, so a search page is still a single SQL statement. The directory
starts from it instead (``crm.directory.queries.matching``: on PostgreSQL each match looks its row up by primary key)
and reads its page and its count from the same materialised matches, so every directory query with a search (the
lists, the API, bulk selections, exports) finds its rows one way and a search page runs the search once.

* SQLite: FTS5 external-content tables ``<table>_fts`` (migrations 0002 and 0010), ranked with bm25.
* PostgreSQL: GIN indexes on weighted tsvector expressions, ranked with ts_rank.

Ranking costs time per matching row, so both back ends take the newest ``MATCH_CAP`` candidates first and rank only
those: a word in every row stays as fast as a rare one (reference/performance.md §5.2; the figures at a million
rows are in docs/proof.md). The price: for a very common word, older matches beyond the cap are not found, so
the page says "add another word" when the cap is reached.

People type words, not query syntax: the text is cut into word tokens (letters and digits), all must match, and
in the directory the last one matches as a prefix ("ment" finds "mental") once it has three letters. Nothing the
user types reaches FTS5/tsquery syntax. ``TextIndex.large`` explains how the million-row tables differ.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import Float, Integer, Subquery, text
from sqlalchemy.orm import Session

MATCH_CAP = 1000
MAX_TERMS = 8
MIN_PREFIX = 3  # "m*" would merge the posting lists of thousands of words


@dataclasses.dataclass(frozen=True, slots=True)
class TextIndex:
    """A table's full-text index: the indexed columns, most important first, and their bm25 weights.

    ``large``: a table that may hold a million rows. There SQLite ranks by how many of the words the title holds,
    not with bm25: FTS5's bm25 counts every document holding each word before scoring even one row, so a capped
    search for "mental" (in 99.6% of a million listings) took 53 ms with bm25 and takes 1.5 ms without. The last
    word is not a prefix either: "mental"* merges the posting lists of every word starting so (58 ms). Porter
    stemming still finds "carer" from "carers". PostgreSQL's ts_rank has no such cost and keeps ranking.

    On PostgreSQL every index searches a stored tsvector column (``pg_document``; migrations 0010 and 0025), never
    an expression it would rebuild for every row it reads: right after a seed or an import, with no statistics,
    the planner once walked 20,000 organisations in a nested loop rebuilding the weighted expression per row
    (3.1-3.9 s for one search; bench/pg_search.py).
    """

    table: str
    columns: tuple[str, ...]
    weights: tuple[float, ...]
    large: bool = False

    @property
    def fts(self) -> str:
        return f"{self.table}_fts"

    @property
    def pg_document(self) -> str:
        """What PostgreSQL searches: the stored, GIN-indexed ``search_fts`` column (``pg_vector`` computed on write)."""
        return f"{self.table}.search_fts"

    @property
    def pg_vector(self) -> str:
        """The weighted vector the migrations store in ``search_fts``, character for character."""
        parts = [
            f"setweight(to_tsvector('english'::regconfig, coalesce({column}, '')), '{'AB'[min(i, 1)]}')"
            for i, column in enumerate(self.columns)
        ]
        return "(" + " || ".join(parts) + ")"


ORGANISATIONS = TextIndex("organisations", ("name", "description"), (10.0, 1.0))
INTERNSHIPS = TextIndex("internships", ("title", "description"), (5.0, 1.0), large=True)
FUNDING_CALLS = TextIndex("funding_calls", ("title", "search_text"), (5.0, 1.0), large=True)


def terms(q: str) -> list[str]:
    return re.findall(r"\w+", (q or "").lower())[:MAX_TERMS]


def matches(session: Session, index: TextIndex, q: str, cap: int = MATCH_CAP) -> Subquery | None:
    """``(id, score)`` of up to ``cap`` rows matching every word of ``q``; None when ``q`` has no words."""
    words = terms(q)
    if not words:
        return None
    prefix = not index.large and len(words[-1]) >= MIN_PREFIX
    params: dict[str, object] = {"cap": cap}
    if session.get_bind().dialect.name == "postgresql":
        params["q"] = " & ".join([*words[:-1], words[-1] + (":*" if prefix else "")])
        stmt = text(_pg_candidates(index) if index.large else _pg_sampled_candidates(index))
    else:
        params["q"] = (" ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"' + ("*" if prefix else "")).strip()
        newest = f"SELECT rowid AS id FROM {index.fts} WHERE {index.fts} MATCH :q ORDER BY rowid DESC LIMIT :cap"
        if index.large:
            title = index.columns[0]
            hits = []
            for n, word in enumerate(words):
                params[f"w{n}"] = _stem(word)
                hits.append(f"(instr(lower(t.{title}), :w{n}) > 0)")
            stmt = text(
                f"SELECT t.id AS id, {' + '.join(hits)} AS score FROM ({newest}) AS c "
                f"JOIN {index.table} AS t ON t.id = c.id"
            )
        else:
            weights = ", ".join(str(w) for w in index.weights)
            stmt = text(newest.replace("rowid AS id", f"rowid AS id, -bm25({index.fts}, {weights}) AS score", 1))
    return stmt.bindparams(**params).columns(id=Integer, score=Float).subquery(f"{index.table}_matches")


def _pg_candidates(index: TextIndex) -> str:
    """The newest ``:cap`` matches, ranked once in a materialised CTE (without statistics the planner would rescan
    an inlined subquery, ranking again, for every outer row); the planner picks the GIN index or the primary key."""
    return (
        "WITH c AS MATERIALIZED (SELECT r.id AS id, ts_rank(r.v, to_tsquery('english', :q))::float8 AS score "
        f"FROM (SELECT {index.table}.id AS id, {index.pg_document} AS v FROM {index.table} "
        f"WHERE {index.pg_document} @@ to_tsquery('english', :q) "
        f"ORDER BY {index.table}.id DESC LIMIT :cap) AS r) SELECT c.id AS id, c.score AS score FROM c"
    )


SAMPLE = 1000  # the newest rows the directory's search looks at first to see how common the words are
BITMAP_COST = 5  # a match read through the GIN index costs about 5 rows of the walk (warm: 3.6 against 0.8 us)


def _pg_sampled_candidates(index: TextIndex) -> str:
    """The newest ``:cap`` matches, found the cheaper of two ways whatever the statistics say.

    Walking the table newest first costs ``cap / share`` rows for words in that share of the rows; reading every
    match through the GIN index and keeping the newest costs ``share * rows`` (each about ``BITMAP_COST`` times a
    walked row: one page per match). With statistics the planner chooses well; right after a seed or an import it
    has none, guesses every word rare and read all 193,660 matches of a common word at 200,000 organisations
    (350 ms). So the statement counts the matches among the newest ``SAMPLE`` rows first and takes the walk when
    ``hits² · rows · BITMAP_COST > cap · sampled²`` (the two costs above; rows estimated from the smallest and
    largest id): the other branch sits behind a one-time filter and never runs.

    The walk goes through the ids newest first in ranges of ``SAMPLE`` (``generate_series`` joined LATERAL to a
    primary-key range each, newest first within it; the nested loop hands the rows on in that order and the outer
    LIMIT stops it once ``cap`` matches are found, so no range beyond is read): asked for "newest first"
    directly, the planner without statistics read and sorted the whole table instead (it guessed one row a page).
    Ranges bound at run time get the planner's fixed guess of a few rows, so each is read through the primary key.
    The other branch reads every match (a subquery behind ``OFFSET 0``, so the planner is not asked for "newest
    first" there and, with statistics, does not walk the whole table for a word it knows to be uncommon: 30 ms at
    20,000). The words are tested with ``ts_match_vq``, the function behind ``@@``, which no index serves, so the planner
    cannot turn the walk back into the GIN plan. At the crossover (about 3% of 200,000 rows) either way costs
    ~25 ms a statement: ~30,000 walked rows or ~6,000 matches read (bench/pg_search.py)."""
    t, doc = index.table, index.pg_document
    query = "to_tsquery('english', :q)"
    hi = "(SELECT hi FROM b)"
    return (
        f"WITH b AS MATERIALIZED (SELECT min({t}.id) AS lo, max({t}.id) AS hi FROM {t}), "
        f"s AS MATERIALIZED (SELECT count(*) AS n, count(*) FILTER (WHERE ts_match_vq({doc}, {query})) AS hits "
        f"FROM {t} WHERE {t}.id > {hi} - {SAMPLE} AND {t}.id <= {hi}), "
        "g AS MATERIALIZED (SELECT s.hits::float8 * s.hits * coalesce((SELECT hi - lo + 1 FROM b), 0) * "
        f"{BITMAP_COST} > :cap * s.n::float8 * s.n AS walk FROM s), "
        f"c AS MATERIALIZED (SELECT r.id AS id, ts_rank(r.v, {query})::float8 AS score FROM ("
        f"(SELECT w.id AS id, w.v AS v FROM generate_series({hi}, (SELECT lo FROM b), -{SAMPLE}) AS ch(top) "
        f"CROSS JOIN LATERAL (SELECT {t}.id AS id, {doc} AS v FROM {t} WHERE {t}.id > ch.top - {SAMPLE} "
        f"AND {t}.id <= ch.top AND ts_match_vq({doc}, {query}) ORDER BY {t}.id DESC LIMIT :cap) AS w "
        "WHERE (SELECT walk FROM g) LIMIT :cap) UNION ALL "
        f"(SELECT x.id, x.v FROM (SELECT {t}.id AS id, {doc} AS v FROM {t} WHERE {doc} @@ {query} "
        "AND NOT (SELECT walk FROM g) OFFSET 0) AS x ORDER BY x.id DESC LIMIT :cap)) AS r) "
        "SELECT c.id AS id, c.score AS score FROM c"
    )


def _stem(word: str) -> str:
    """A rough stem for the title ranking ("evaluating" -> "evaluat" also meets "evaluation"); matching itself
    uses the index's porter stemmer."""
    return word[: max(4, len(word) - 3)]
