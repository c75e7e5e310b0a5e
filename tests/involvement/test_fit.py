"""The fit rule part by part (pure), the ranking, and the facts loaded from the database."""

from __future__ import annotations

from crm import models as m
from crm.involvement.fit import MemberFacts, OpportunityFacts, fit, member_facts, opportunity_facts, rank
from tests import factories
from tests.involvement.network_helpers import join_and_confirm
from tests.involvement.opportunities_factory import make_opportunity

OPEN = MemberFacts(id=1, name="Open To Anything")
ROLE = OpportunityFacts(
    kind="advisory-group",
    topic_ids=frozenset({1, 2}),
    region_id=10,
    region_name="London",
    online=False,
    paid=True,
    has_access_support=True,
    topic_names=((1, "Psychosis"), (2, "Carers")),
)


def _with(**changes) -> MemberFacts:
    return MemberFacts(**{**{"id": 2, "name": "Someone"}, **changes})


def test_a_member_who_left_everything_open_fits_with_no_reasons_to_rank_by() -> None:
    verdict = fit(OPEN, ROLE)
    assert verdict.fits and verdict.score == 0 and verdict.reasons == () and verdict.misses == ()


def test_topics_shared_fit_and_name_the_topics_and_none_shared_do_not() -> None:
    good = fit(_with(topic_ids=frozenset({2, 3})), ROLE)
    assert good.fits and good.score == 3 and good.reasons == ("Topics they chose: Carers",)
    bad = fit(_with(topic_ids=frozenset({3})), ROLE)
    assert not bad.fits and bad.misses == ("None of the topics they chose",)
    # An opportunity naming no topic does not rule anyone out.
    assert fit(_with(topic_ids=frozenset({3})), OpportunityFacts(kind="training")).fits


def test_kind() -> None:
    assert fit(_with(kinds=frozenset({"advisory-group", "training"})), ROLE).reasons == (
        "They asked for: advisory group member",
    )
    miss = fit(_with(kinds=frozenset({"speaking"})), ROLE)
    assert not miss.fits and miss.misses == ("They did not ask for: advisory group member",)


def test_place_region_uk_wide_and_online() -> None:
    london = _with(region_ids=frozenset({10}))
    north = _with(region_ids=frozenset({11}))
    assert fit(london, ROLE).reasons == ("In London, a region they chose",) and fit(london, ROLE).score == 2
    assert fit(north, ROLE).misses == ("In London, not one they chose",)
    uk = OpportunityFacts(kind="training", region_id=99, uk_wide=True, region_name="UK-wide")
    assert fit(north, uk).fits and fit(north, uk).reasons == ("UK-wide",)
    online_only = OpportunityFacts(kind="training", online=True)
    assert fit(north, online_only).reasons == ("Online, and they are happy to take part online",)
    in_person = _with(online_ok=False)
    assert fit(in_person, online_only).misses == ("Online only, and they prefer not to take part online",)
    # Online and in London: someone in the north who is happy online fits by being online.
    hybrid = OpportunityFacts(kind="training", region_id=10, online=True, region_name="London")
    assert fit(north, hybrid).fits
    assert not fit(_with(online_ok=False, region_ids=frozenset({11})), hybrid).fits
    # Nowhere given: nothing to hold against it.
    assert fit(north, OpportunityFacts(kind="training")).fits


def test_payment_preferences_paid_vouchers_volunteer() -> None:
    unpaid = OpportunityFacts(kind="training", paid=False)
    vouchers = OpportunityFacts(kind="training", paid=True, vouchers=True)
    volunteer = _with(payment_preferences=frozenset({"volunteer"}))
    paid = _with(payment_preferences=frozenset({"paid"}))
    voucher_only = _with(payment_preferences=frozenset({"vouchers"}))
    assert fit(volunteer, unpaid).fits and fit(volunteer, unpaid).reasons == (
        "Payment they prefer: as a volunteer (expenses only)",
    )
    assert not fit(volunteer, ROLE).fits and fit(volunteer, ROLE).misses == (
        "Payment they prefer: as a volunteer (expenses only); this one is paid",
    )
    assert fit(paid, ROLE).fits and not fit(paid, unpaid).fits
    assert not fit(voucher_only, ROLE).fits and fit(voucher_only, vouchers).fits


def test_access_needs_rank_higher_where_support_is_described_and_never_rule_out() -> None:
    needs = _with(has_access_needs=True)
    described = fit(needs, ROLE)
    assert described.fits and described.score == 1 and "access support" in described.reasons[0]
    silent = fit(needs, OpportunityFacts(kind="training"))
    assert silent.fits and silent.score == 0 and "does not say what support" in silent.cautions[0]


def test_rank_orders_by_score_then_name_and_can_show_who_does_not_fit() -> None:
    best = MemberFacts(id=3, name="zoe", topic_ids=frozenset({1}), kinds=frozenset({"advisory-group"}))
    good = MemberFacts(id=4, name="Amy", topic_ids=frozenset({1}))
    tie = MemberFacts(id=5, name="bob", topic_ids=frozenset({2}))
    out = MemberFacts(id=6, name="Al", kinds=frozenset({"speaking"}))
    ranked = rank([out, tie, good, best, OPEN], ROLE)
    assert [r.member.id for r in ranked] == [3, 4, 5, 1]
    everyone = rank([out, tie, good, best, OPEN], ROLE, include_misses=True)
    assert [r.member.id for r in everyone] == [3, 4, 5, 1, 6] and not everyone[-1].fit.fits


def test_facts_from_the_database(client, db, count_queries) -> None:
    topic = factories.topic(db, "Psychosis")
    uk = factories.region_id(db, "UK")
    db.commit()
    opp = make_opportunity(
        db, region="UK", online=True, payment_note="Vouchers available instead", topic_ids=[str(topic.id)]
    )
    db.commit()
    facts = opportunity_facts(db, opp)
    assert facts.topic_ids == {topic.id} and facts.region_id == uk and facts.uk_wide and facts.online
    assert (
        facts.paid and facts.vouchers and facts.has_access_support and facts.topic_names == ((topic.id, "Psychosis"),)
    )
    join_and_confirm(client, db, "a@example.org", topics=[str(topic.id)], kinds=["training"], access_needs="Captions")
    join_and_confirm(client, db, "b@example.org", payment=["paid"], online="no")
    db.add(m.NetworkMember(email="pending@example.org", name="Not Yet"))
    db.commit()
    with count_queries() as q:
        found = member_facts(db)
    assert q.count == 3
    assert [(f.name, f.topic_ids, f.kinds, f.has_access_needs) for f in found] == [
        ("Robin Member", frozenset({topic.id}), frozenset({"training"}), True),
        ("Robin Member", frozenset(), frozenset(), False),
    ]
    assert found[1].payment_preferences == {"paid"} and not found[1].online_ok
