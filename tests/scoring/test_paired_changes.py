"""Paired change between two rounds of the same people, checked against a small
population worked out by hand (with a missing round and a repeated round)."""

from __future__ import annotations

import pytest

from scoring import paired_changes, trajectories


def rec(person, rnd, interview, composite, economic=None, *, country="GIN", sex="female",
        returned="2025-01-10", order=0):
    return {"person": person, "survey_round": rnd, "interview_date": interview,
            "return_date": returned, "country_of_return": country, "sex": sex,
            "order": order, "instance_id": f"uuid:{person}-{rnd}-{order}",
            "scores": {"composite": composite, "economic": economic}}


# A rose, B stayed (-0.02), C fell, D has no 6m, E was interviewed twice at 6m (the
# first interview counts), F has no baseline.
POPULATION = [
    rec("A", "baseline", "2025-02-01", 0.40, 0.30, order=1),
    rec("B", "baseline", "2025-02-03", 0.50, 0.50, sex="male", returned="2025-01-20", order=2),
    rec("C", "baseline", "2025-03-10", 0.30, 0.20, country="SEN", returned="2025-03-01",
        order=3),
    rec("D", "baseline", "2025-03-12", 0.60, 0.60, country="SEN", sex="male", order=4),
    rec("E", "baseline", "2025-02-05", 0.45, 0.25, returned="2025-02-01", order=5),
    rec("A", "6m", "2025-07-15", 0.55, 0.40, order=6),
    rec("B", "6m", "2025-07-10", 0.48, 0.50, sex="male", returned="2025-01-20", order=7),
    rec("C", "6m", "2025-09-05", 0.20, None, country="SEN", returned="2025-03-01", order=8),
    rec("E", "6m", "2025-08-03", 0.10, 0.00, returned="2025-02-01", order=10),
    rec("E", "6m", "2025-08-01", 0.65, 0.45, returned="2025-02-01", order=9),
    rec("F", "6m", "2025-07-01", 0.70, 0.70, order=11),
]


def test_overall_paired_change_of_the_composite_matches_the_hand_computation():
    result = paired_changes(POPULATION, "baseline", "6m", scores=["composite", "economic"])
    assert result["n"] == 4
    assert result["left_out"] == {"missing_round": 2, "repeated_round": 1}
    [group] = result["groups"]
    composite = group["scores"]["composite"]
    # differences A +0.15, B -0.02, C -0.10, E +0.20: mean 0.23 / 4; squared deviations
    # sum to 0.059675, sd = sqrt(0.059675 / 3) = 0.141038; half-width 3.182 * sd / 2.
    assert composite["n"] == 4
    assert composite["mean_change"] == pytest.approx(0.0575)
    assert composite["median_change"] == pytest.approx(0.065)
    assert composite["ci95"] == pytest.approx([-0.166891, 0.281891], abs=1e-6)
    assert composite["from_mean"] == pytest.approx(0.4125)
    assert composite["to_mean"] == pytest.approx(0.47)


def test_a_score_missing_in_one_round_leaves_that_person_out_of_that_score_only():
    result = paired_changes(POPULATION, "baseline", "6m", scores=["composite", "economic"])
    economic = result["groups"][0]["scores"]["economic"]
    # C has no 6m economic score: A +0.10, B 0, E +0.20; sd 0.1, half 4.303 * 0.1 / sqrt(3)
    assert economic["n"] == 3
    assert economic["mean_change"] == pytest.approx(0.10)
    assert economic["ci95"] == pytest.approx([-0.148434, 0.348434], abs=1e-6)


def test_shares_rose_fell_and_stayed_within_the_tolerance():
    result = paired_changes(POPULATION, "baseline", "6m", scores=["composite"], tolerance=0.05)
    assert result["groups"][0]["composite"] == {
        "rose": {"n": 2, "share": 0.5}, "fell": {"n": 1, "share": 0.25},
        "stayed": {"n": 1, "share": 0.25}}
    wide = paired_changes(POPULATION, "baseline", "6m", scores=["composite"], tolerance=0.15)
    # +0.15 is within a tolerance of 0.15: only E rose
    assert wide["groups"][0]["composite"]["rose"]["n"] == 1
    assert wide["groups"][0]["composite"]["stayed"]["n"] == 3


def test_change_by_country_sex_and_months_since_return():
    by_country = paired_changes(POPULATION, "baseline", "6m", by=["country"],
                                scores=["composite"])
    gin, sen = by_country["groups"]
    assert gin["group"] == {"country_of_return": "GIN"} and gin["n"] == 3
    # GIN: +0.15, -0.02, +0.20; sd = sqrt(0.0266 / 2); half 4.303 * sd / sqrt(3)
    assert gin["scores"]["composite"]["mean_change"] == pytest.approx(0.11)
    assert gin["scores"]["composite"]["ci95"] == pytest.approx([-0.176508, 0.396508],
                                                               abs=1e-6)
    assert sen["n"] == 1 and sen["scores"]["composite"]["mean_change"] == pytest.approx(-0.10)
    assert sen["scores"]["composite"]["ci95"] is None
    by_sex = paired_changes(POPULATION, "baseline", "6m", by=["sex"], scores=["composite"])
    assert [(g["group"]["sex"], g["n"]) for g in by_sex["groups"]] == [("female", 3),
                                                                       ("male", 1)]
    # months from return to the 6m interview: B 2025-01-20 -> 2025-07-10 is 5 whole months
    by_months = paired_changes(POPULATION, "baseline", "6m", by=["months_since_return"],
                               scores=["composite"])
    assert [(g["group"]["months_since_return"], g["n"]) for g in by_months["groups"]] == [
        ("0-5", 1), ("6-11", 3)]


def test_an_unknown_grouping_is_refused():
    with pytest.raises(ValueError, match="unknown grouping"):
        paired_changes(POPULATION, "baseline", "6m", by=["quarter"])


def test_trajectories_list_each_persons_rounds_in_round_order_first_interview_kept():
    people = {p["person"]: p for p in trajectories(POPULATION, ["baseline", "6m"],
                                                   ["composite"])}
    assert [r["round"] for r in people["A"]["rounds"]] == ["baseline", "6m"]
    assert [r["scores"]["composite"] for r in people["E"]["rounds"]] == [0.45, 0.65]
    assert [r["round"] for r in people["F"]["rounds"]] == ["6m"]
