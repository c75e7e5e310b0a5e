"""The VCSE partner ranking: hand-made cases, pure and on both databases, with a bounded number of statements."""

from __future__ import annotations

from crm import models as m
from crm.funding.matching import AcademicLink, CallFacts, Candidate, rank, suggest_partners
from crm.partnerships import changes, rules
from tests import factories
from tests.funding.helpers import NOW, make_call

TOPICS = {1: "Psychosis", 2: "Carers", 3: "Trauma"}
UK, LONDON, WALES = 100, 101, 102


def cand(id_, name, *, region=None, topics=(), category=None, user_led=False, lived=False, links=()):
    return Candidate(
        id=id_,
        name=name,
        slug=name.lower(),
        region_id=region,
        region_name={UK: "UK-wide", LONDON: "London", WALES: "Wales"}.get(region, ""),
        category=category,
        user_led=user_led,
        lived_experience_led=lived,
        topic_ids=frozenset(topics),
        academic_links=tuple(links),
    )


CALL = CallFacts(
    id=1, topic_ids=frozenset({1, 2}), region_ids=frozenset({LONDON}), uk_wide_region_id=UK, vcse_can_lead=True
)


def test_shared_topics_and_region_rank_first_with_reasons():
    result = rank(
        CALL,
        [
            cand(1, "Aster", region=LONDON, topics={1, 2}),
            cand(2, "Birch", region=LONDON, topics={1}),
            cand(3, "Cedar", region=WALES, topics={1}),
            cand(4, "Dale", region=WALES, topics={3}),  # nothing in common: left out
        ],
        TOPICS,
    )
    assert [s.name for s in result] == ["Aster", "Birch", "Cedar"]
    assert result[0].reasons[:2] == ("Works on Carers, Psychosis", "Based in London, a region of the call")
    assert result[0].score == 11 and result[1].score == 7 and result[2].score == 4


def test_uk_wide_counts_both_ways_and_topics_decide_who_is_relevant():
    uk_call = CallFacts(
        id=1, topic_ids=frozenset({1}), region_ids=frozenset({UK}), uk_wide_region_id=UK, vcse_can_lead=False
    )
    result = rank(
        uk_call, [cand(1, "Wales group", region=WALES, topics={1}), cand(9, "Unrelated", region=WALES)], TOPICS
    )
    assert [s.name for s in result] == ["Wales group"]  # the call names topics: a region match alone is not enough
    assert result[0].reasons == ("Works on Psychosis", "The call is open UK-wide")
    national = rank(CALL, [cand(2, "National", region=UK, topics={2})], TOPICS)
    assert national[0].reasons == ("Works on Carers", "Works UK-wide")
    no_topics = CallFacts(
        id=1, topic_ids=frozenset(), region_ids=frozenset({LONDON}), uk_wide_region_id=UK, vcse_can_lead=False
    )
    assert [
        s.name for s in rank(no_topics, [cand(3, "Londoners", region=LONDON), cand(4, "Welsh", region=WALES)], TOPICS)
    ] == ["Londoners"]


def test_category_lived_experience_and_existing_academic_partnership_add_up():
    base = dict(region=LONDON, topics={1})
    result = rank(
        CALL,
        [
            cand(1, "Plain", **base),
            cand(2, "Free standing", category=m.VcseCategory.FREE_STANDING, **base),
            cand(3, "Lived", lived=True, user_led=True, **base),
            cand(4, "Partnered", links=[AcademicLink("University of Eastmoor", frozenset({2}))], **base),
            cand(5, "Other topic", links=[AcademicLink("Westbridge University", frozenset({3}))], **base),
        ],
        TOPICS,
    )
    scores = {s.name: s.score for s in result}
    assert scores == {"Plain": 7, "Free standing": 9, "Lived": 10, "Partnered": 11, "Other topic": 8}
    assert [s.name for s in result] == ["Partnered", "Lived", "Free standing", "Other topic", "Plain"]
    assert "Already partners with University of Eastmoor on a similar topic" in result[0].reasons
    free = next(s for s in result if s.name == "Free standing")
    assert "A free-standing organisation, able to co-lead as this call allows" in free.reasons
    tie = rank(CALL, [cand(7, "Zinnia", **base), cand(6, "Acorn", **base)], TOPICS)
    assert [s.name for s in tie] == ["Acorn", "Zinnia"]  # ties break by name, so the order is stable


def test_ranking_on_the_database_in_five_statements(db, count_queries):
    funder = factories.organisation(db, "Northfield Trust", m.OrgKind.FUNDER)
    uni = factories.organisation(db, "University of Eastmoor", m.OrgKind.ACADEMIC)
    factories.organisation(
        db, "Aster Voices", region_name="London", topics=["Psychosis", "Carers"], lived_experience_led=True
    )
    partnered = factories.organisation(db, "Birch Peer Network", region_name="Wales", topics=["Psychosis"])
    factories.organisation(
        db, "Cedar Carers", region_name="London", topics=["Trauma"]
    )  # same region, no shared topic: not suggested
    factories.organisation(
        db, "Unapproved Group", region_name="London", topics=["Psychosis"], review_status=m.ReviewStatus.SUBMITTED
    )
    factories.organisation(
        db, "Dale Futures", region_name="Wales", topics=["Trauma"]
    )  # no topic, no region: not suggested
    call = make_call(db, funder, topics=["Psychosis", "Carers"], regions=["London"], requires_vcse_partner=True)
    changes.create_partnership(
        db,
        None,
        rules.PartnershipInput(
            title="Earlier study",
            members=[rules.MemberInput(m.Side.ACADEMIC, uni.id), rules.MemberInput(m.Side.VCSE, partnered.id)],
            topic_ids=[factories.topic(db, "Psychosis").id],
        ),
        now=NOW,
    )
    db.commit()
    with count_queries() as q:
        result = suggest_partners(db, call)
    assert q.count == 5
    names = [s.name for s in result]
    assert names == ["Aster Voices", "Birch Peer Network"]
    assert "Already partners with University of Eastmoor on a similar topic" in result[1].reasons
    assert "Led by people with lived experience" in result[0].reasons
