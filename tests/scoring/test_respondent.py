"""The respondent key the RSS form declares: case_id + survey_round."""

from __future__ import annotations

import copy

from scoring import normalise_key_part, respondent_key, respondent_key_fields


def test_rss_respondent_key_is_case_id_and_round(model):
    assert respondent_key_fields(model) == ["case_id", "survey_round"]
    assert respondent_key(model, {"case_id": "GIN-1", "survey_round": "12m"}) == "GIN-1|12m"


def test_key_computed_on_the_device_is_used_as_sent(model):
    assert respondent_key(model, {"respondent_key": "GIN-1|6m", "case_id": "other"}) == "GIN-1|6m"


def test_key_with_a_missing_part_is_none(model):
    assert respondent_key(model, {"case_id": "GIN-1"}) is None


def test_form_without_a_declared_key_has_none(model):
    plain = copy.copy(model)
    plain.fields = {p: f for p, f in model.fields.items() if f.name != "respondent_key"}
    assert respondent_key_fields(plain) == []
    assert respondent_key(plain, {"case_id": "GIN-1", "survey_round": "6m"}) is None


def test_key_normalisation_ignores_case_spaces_and_punctuation():
    assert normalise_key_part(" gin-2024/00017 ") == "GIN202400017"
    assert normalise_key_part("GIN 2024 00017") == "GIN202400017"
    assert normalise_key_part("Conakry-é") == "CONAKRYE"
