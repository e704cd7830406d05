"""The rank plan: reading a document, refusing one that cannot work, and qualifying."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import pytest

from portal.volume.plan import (EXAMPLE_PLAN, Leg, PlanInvalid, parse_plan, plan_document,
                                qualify, qualifying_gv)


def leg(gv, rank=None, n=[0]):
    n[0] += 1
    return Leg(member=f"L{n[0]}", name=f"Leg {n[0]}", gv=D(gv), rank=rank)


def rank_entry(code, name=None, min_pv="0", min_gv="0", share=None, legs=()):
    return {"code": code, "name": name or code.title(), "min_pv": min_pv, "min_gv": min_gv,
            "max_leg_share": share, "legs": [{"count": c, "rank": r} for c, r in legs]}


@pytest.fixture
def plan():
    return parse_plan(EXAMPLE_PLAN)


def test_the_example_plan_has_six_ranks_and_reads_back_the_same(plan):
    assert [r.code for r in plan.ranks] == ["associate", "bronze", "silver", "gold", "platinum",
                                            "diamond"]
    assert parse_plan(plan_document(plan)) == plan
    assert plan_document(plan) == EXAMPLE_PLAN


# The maximum-leg rule: Gold asks 6,000 GV, at most 50% (3,000) from one leg.
@pytest.mark.parametrize("pv, legs, counted", [
    ("150", [], "150"),
    ("150", ["3000"], "3150"),
    ("150", ["5000"], "3150"),                 # the big leg counts for 3,000 only
    ("150", ["5000", "5000"], "6150"),
    ("150", ["2999.99", "10"], "3159.99"),
    ("4000", ["3000"], "7000"),                # personal PV is never capped
    ("150", ["-20", "100"], "230"),            # a leg below zero (refunds) lowers it
])
def test_the_maximum_leg_rule_counts_at_most_a_share_from_one_leg(plan, pv, legs, counted):
    gold = plan.rank("gold")
    assert qualifying_gv(gold, pv=D(pv), legs=[leg(g) for g in legs]) == D(counted)


def test_without_a_share_every_leg_counts_in_full(plan):
    bronze = plan.rank("bronze")
    assert qualifying_gv(bronze, pv=D("100"), legs=[leg("9000"), leg("1")]) == D("9101")


@pytest.mark.parametrize("pv, legs, expected", [
    ("0", [], None),
    ("49.99", [], None),
    ("50", [], "associate"),
    ("100", [("400", None)], "bronze"),
    ("99", [("5000", None)], "associate"),              # Bronze needs 100 PV of one's own
    # Silver: 2,000 GV at most 60% (1,200) from one leg, and 2 legs at Associate or above
    ("100", [("5000", "associate")], "bronze"),         # one leg: not Silver
    ("100", [("1200", "associate"), ("700", "bronze")], "silver"),
    ("100", [("1200", "associate"), ("699.99", "bronze")], "bronze"),
    ("100", [("1200", None), ("700", "bronze")], "bronze"),   # a leg without rank does not count
    # Gold: 150 PV, 6,000 GV at most 50%, 2 legs at Bronze
    ("150", [("3000", "bronze"), ("2850", "gold")], "gold"),
    ("150", [("3000", "associate"), ("2850", "gold")], "silver"),
    ("150", [("9000", "diamond"), ("1000", "diamond")], "silver"),  # 4,150 counts: not Gold
])
def test_paid_as_is_the_highest_rank_met(plan, pv, legs, expected):
    result = qualify(plan, pv=D(pv), gv=D(pv) + sum(D(g) for g, _ in legs),
                     legs=[leg(g, r) for g, r in legs])
    assert (result.rank.code if result.rank else None) == expected


@pytest.mark.parametrize("legs, held, missing", [
    ([], 0, "2 more legs at Associate"),
    (["associate"], 1, "1 more leg at Associate"),
    (["bronze", None], 1, "1 more leg at Associate"),
    (["diamond", "associate"], 2, None),
])
def test_legs_holding_a_rank_count_that_rank_or_higher(plan, legs, held, missing):
    result = qualify(plan, pv=D("500"), gv=D("1000"), legs=[leg("250", r) for r in legs])
    assert result.next_rank.code == "silver"
    leg_requirement = result.requirements[-1]
    assert leg_requirement.text == "2 legs at Associate"
    assert leg_requirement.met is (missing is None)
    assert leg_requirement.to_go == missing


def test_each_leg_requirement_counts_on_its_own():
    plan = parse_plan({"ranks": [
        rank_entry("a", min_pv="10"), rank_entry("b", min_pv="20"),
        rank_entry("c", min_pv="30", legs=[(2, "a"), (1, "b")])]})
    two_b = [leg("0", "b"), leg("0", "b")]
    assert qualify(plan, pv=D("30"), gv=D("30"), legs=two_b).rank.code == "c"
    assert qualify(plan, pv=D("30"), gv=D("30"), legs=[leg("0", "a"), leg("0", "a")]).rank.code == "b"


def test_the_next_rank_says_what_is_missing(plan):
    result = qualify(plan, pv=D("80"), gv=D("380"), legs=[leg("300", "associate")])
    assert result.rank.code == "associate"
    assert result.next_rank.code == "bronze"
    assert [(r.text, r.met, r.to_go) for r in result.requirements] == [
        ("100 PV", False, "20 PV to go"), ("500 GV", False, "120 GV to go")]
    assert result.missing == ("20 PV to go", "120 GV to go")


def test_the_gv_requirement_names_the_share(plan):
    result = qualify(plan, pv=D("150"), gv=D("11150"),
                     legs=[leg("10000", "gold"), leg("1000", "associate")])
    assert result.rank.code == "silver" and result.next_rank.code == "gold"
    assert result.requirements[1].text == "6,000 GV, at most 50% from one leg"
    assert result.missing == ("1,850 GV to go", "1 more leg at Bronze")


def test_at_the_top_nothing_is_missing(plan):
    legs = [leg("21000", "gold") for _ in range(3)]
    result = qualify(plan, pv=D("200"), gv=D("63200"), legs=legs)
    assert result.rank.code == "diamond"
    assert result.next_rank is None and result.missing == ()


def refused(document) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(document)
    return caught.value.reasons


def test_negative_figures_are_refused_each_with_its_reason():
    reasons = refused({"ranks": [rank_entry("a", min_pv="-5", min_gv="-1")]})
    assert reasons == ["A's minimum PV cannot be negative.", "A's minimum GV cannot be negative."]


def test_a_leg_requirement_at_an_unknown_rank_is_refused():
    reasons = refused({"ranks": [rank_entry("a", min_pv="10"),
                                 rank_entry("b", min_pv="20", legs=[(2, "emerald")])]})
    assert "B asks for legs at 'emerald', which is not a rank of this plan." in reasons


def test_a_cycle_in_leg_requirements_is_refused():
    reasons = refused({"ranks": [rank_entry("a", min_pv="10"),
                                 rank_entry("b", min_pv="20", legs=[(1, "c")]),
                                 rank_entry("c", min_pv="30", legs=[(1, "b")])]})
    assert "A cycle in the leg requirements: B needs legs at C needs legs at B." in reasons
    assert "B can never be met: it needs legs at a rank nobody can hold." in reasons


def test_a_rank_asking_for_legs_at_itself_is_a_cycle():
    reasons = refused({"ranks": [rank_entry("a", min_pv="10", legs=[(1, "a")])]})
    assert reasons[0] == "A cycle in the leg requirements: A needs legs at A."


def test_legs_at_a_higher_rank_are_refused():
    reasons = refused({"ranks": [rank_entry("a", min_pv="10", legs=[(1, "b")]),
                                 rank_entry("b", min_pv="20")]})
    assert "A asks for legs at B, a higher rank; legs must hold a lower rank." in reasons


def test_a_plan_whose_rank_can_never_be_paid_is_refused():
    reasons = refused({"ranks": [rank_entry("a", min_pv="200"), rank_entry("b", min_pv="100")]})
    assert reasons == ["A can never be the paid-as rank: whoever meets it meets B, a higher rank, too."]


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["ranks"][2].update(max_leg_share="1.5"),
     "Silver's maximum share from one leg must be above 0 and at most 1."),
    (lambda d: d["ranks"][2].update(max_leg_share="0"),
     "Silver's maximum share from one leg must be above 0 and at most 1."),
    (lambda d: d["ranks"][1].update(code="associate"), "The code 'associate' is used by two ranks."),
    (lambda d: d["ranks"][1].update(name=""), "Rank 2 needs a name of 1 to 40 characters."),
    (lambda d: d["ranks"][0].update(min_pv="lots"), "Associate's minimum PV must be a number (got 'lots')."),
    (lambda d: d["ranks"][0].update(min_pv="0"),
     "Associate asks for nothing: every IBO would hold it without any volume."),
    (lambda d: d["ranks"][3]["legs"][0].update(count=0),
     "Gold's number of legs at bronze must be a whole number from 1 to 1000."),
    (lambda d: d.update(ranks=[]), "The plan needs at least one rank."),
])
def test_each_bad_field_is_refused_with_its_reason(change, reason):
    document = copy.deepcopy(EXAMPLE_PLAN)
    change(document)
    assert reason in refused(document)


def test_every_reason_is_given_at_once():
    document = copy.deepcopy(EXAMPLE_PLAN)
    document["ranks"][0]["min_pv"] = "-1"
    document["ranks"][4]["max_leg_share"] = "2"
    assert len(refused(document)) == 2


def test_the_integer_ranker_of_the_bulk_passes_equals_the_plan(plan):
    """The full recompute and the refresh rank with ``Ranker`` over hundredths; it must answer
    as ``paid_as`` does, negative figures (refunds) and shares included."""
    import random

    from portal.volume.plan import paid_as
    from portal.volume.tally import Ranker

    rng = random.Random(7)
    ranker = Ranker(plan)
    codes = [None] + [r.code for r in plan.ranks]
    for _ in range(3000):
        pv = D(rng.choice([-30, 0, 49, 50, 100, 150, 200, 250])) + D(rng.randrange(100)) / 100
        legs = [leg(D(rng.choice([-100, 0, 300, 1199, 1200, 1201, 3000, 7000, 21000, 30000]))
                    + D(rng.randrange(100)) / 100, rng.choice(codes)) for _ in range(rng.randrange(6))]
        expected = paid_as(plan, pv=pv, legs=legs)
        level = ranker.level(int(pv * 100), [(int(l.gv * 100), plan.level(l.rank)) for l in legs])
        assert ranker.code(level) == (expected.code if expected else None), (pv, legs)


def test_a_figure_of_zero_asks_for_nothing_even_below_zero(plan):
    result = qualify(plan, pv=D("60"), gv=D("-40"), legs=[leg("-100")])
    assert result.rank.code == "associate"
