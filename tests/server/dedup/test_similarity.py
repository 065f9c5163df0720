"""Answer similarity and the answer summary that picks candidates: the summary
never rules out a pair whose answers match."""

from __future__ import annotations

import random

import pytest

from server.dedup import similarity
from server.registry.models import model_for
from server.registry.publish import publish_builtin_rss
from tests.helpers.rss_records import BEST, WORST, build


def test_similarity_is_the_share_of_equal_answers_among_those_both_gave():
    a = ["x", "y", None, "z", "w"]
    b = ["x", "q", "r", None, "w"]
    assert similarity.similarity(a, b) == (pytest.approx(2 / 3), 3)


def test_the_one_pass_summary_is_the_summary_of_the_normalised_answers(db):
    model = model_for(db, "rss", publish_builtin_rss(db)["version"])
    flds = similarity.compared_fields(model, "interview_date")
    odd = build(BEST, currently_working=" YES ", productive_assets="livestock  land", age=31.0)
    shapes = build(BEST, currently_working={"not": "a value"}, productive_assets=["land"])
    for data in (build(BEST), build(WORST), odd, shapes, {}, {"econ": "not a group"}):
        assert similarity.summary_of(flds, data) == \
            similarity.summary(similarity.answers_of(flds, data))


def _could(a, b, minimum, threshold, layouts=(1, 1)):
    row = ("b", layouts[1], *similarity.summary(b))
    return similarity.could_match(similarity.summary(a), layouts[0], minimum, threshold,
                                  [row], 1) == [row]


def test_the_summary_never_rules_out_a_pair_whose_answers_reach_the_threshold():
    rng = random.Random(5)
    ruled_out = 0
    for _ in range(500):
        a = [rng.choice([None, "x", "y", "z", "w"]) for _ in range(36)]
        b = [rng.choice([None, "x", "y", "z", "w"]) for _ in range(36)]
        exact, both = similarity.similarity(a, b)
        for minimum, threshold in ((10, 0.8), (10, 0.3), (0, 0.0), (36, 0.5)):
            if both >= minimum and exact >= threshold:
                assert _could(a, b, minimum, threshold)
            elif not _could(a, b, minimum, threshold):
                ruled_out += 1
    assert ruled_out > 500  # and it does rule out most pairs that do not


def test_the_summary_leaves_pairs_of_other_layouts_to_their_answers():
    a = [f"a{i}" for i in range(20)]
    b = [f"b{i}" for i in range(20)]  # every answer differs: about half the bits show it
    assert not _could(a, b, 10, 0.9)
    assert _could(a, b, 10, 0.9, layouts=(1, 2))
    assert similarity.could_match(None, 1, 10, 0.9, [("b", 1, 0, 0)], 1) == [("b", 1, 0, 0)]
    assert similarity.could_match(similarity.summary(a), 1, 10, 0.9,
                                  [("b", 1, None, None)], 1) == [("b", 1, None, None)]


def test_a_pair_with_no_answer_in_common_passes_only_a_zero_threshold():
    a, b = ["x", None], [None, "x"]
    assert not _could(a, b, 0, 0.8)
    assert _could(a, b, 0, 0.0)


def test_forms_comparing_more_than_64_fields_have_no_summary():
    assert similarity.summary(["x"] * 65) is None
