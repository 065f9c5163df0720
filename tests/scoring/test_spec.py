"""Loading and checking scoring specs: weights, references, errors that name the row."""

from __future__ import annotations

import copy
import json

import pytest

from scoring import (
    ScoringError,
    available_specs,
    check_spec,
    declared_spec_version,
    load_spec,
    parse_spec,
    spec_for_form,
)
from scoring.spec import SPECS_DIR


@pytest.fixture
def doc():
    return json.loads((SPECS_DIR / "rss-v1.json").read_text(encoding="utf-8"))


def row_of(doc, name):
    return next(i for i, r in enumerate(doc["indicators"], start=1) if r["name"] == name)


def only_error(exc_info):
    errors = exc_info.value.details["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def test_rss_v1_weights_of_each_score_sum_to_one(spec):
    assert spec.weight_sums() == pytest.approx(
        {"economic": 1, "social": 1, "psychosocial": 1, "composite": 1}, abs=1e-6)


def test_rss_v1_composite_weights_split_033_033_034_by_dimension(spec):
    share = {"economic": 0.0, "social": 0.0, "psychosocial": 0.0}
    for ind in spec.indicators:
        dims = [d for d in ind.weights if d != "composite"]
        share[dims[0]] += ind.weights.get("composite", 0)
    assert share == pytest.approx({"economic": 0.33, "social": 0.33, "psychosocial": 0.34})


def test_rss_v1_has_version_and_provenance_note(spec):
    assert spec.version == "rss-v1"
    assert "third-party" in spec.provenance
    assert "not been checked" in spec.provenance.replace("NOT", "not")
    assert "Annex 4" in spec.provenance


def test_rss_v1_covers_every_rss_item_and_construct(spec):
    refs = [ind.ref for ind in spec.indicators]
    assert refs == [str(n) for n in range(1, 31) if n != 20][:19] + ["20"] + [
        str(n) for n in range(21, 31)] + ["29+30"]


def test_rss_form_declares_rss_v1_and_spec_for_form_returns_it(model):
    assert declared_spec_version(model) == "rss-v1"
    spec = spec_for_form(model)
    assert spec.version == "rss-v1"


def test_rss_v1_fits_the_builtin_form(spec, model):
    check_spec(spec, model)


def test_weights_not_summing_to_one_name_the_score_row(doc):
    doc["indicators"][row_of(doc, "econ_satisfaction") - 1]["weights"]["economic"] = 0.2
    with pytest.raises(ScoringError) as exc_info:
        parse_spec(doc)
    error = only_error(exc_info)
    assert (error["sheet"], error["row"], error["name"]) == ("scores", 1, "economic")
    assert "sum to 1.05" in error["message"]
    assert exc_info.value.code == "scoring_spec_invalid"
    assert exc_info.value.status == 422
    assert "'scores' row 1" in exc_info.value.message


def test_weight_within_tolerance_is_accepted(doc):
    doc["indicators"][0]["weights"]["economic"] += 5e-7
    doc["indicators"][1]["weights"]["economic"] -= 4e-7
    parse_spec(doc)


def test_unknown_value_set_names_the_indicator_row(doc):
    doc["indicators"][row_of(doc, "access_health") - 1]["values"] = "rating7"
    with pytest.raises(ScoringError) as exc_info:
        parse_spec(doc)
    error = only_error(exc_info)
    assert (error["sheet"], error["row"], error["name"]) == (
        "indicators", row_of(doc, "access_health"), "access_health")
    assert "rating7" in error["message"]


def test_value_outside_zero_one_names_the_value_set_row(doc):
    doc["value_sets"][3]["values"]["very_good"] = 2
    with pytest.raises(ScoringError) as exc_info:
        parse_spec(doc)
    error = only_error(exc_info)
    assert (error["sheet"], error["row"], error["name"]) == ("value_sets", 4, "rating5")


def test_construct_using_a_later_indicator_names_its_row(doc):
    rows = doc["indicators"]
    services = rows.pop(row_of(doc, "services_access") - 1)
    rows.insert(0, services)
    with pytest.raises(ScoringError) as exc_info:
        parse_spec(doc)
    errors = exc_info.value.details["errors"]
    assert {(e["sheet"], e["row"], e["name"]) for e in errors} == {
        ("indicators", 1, "services_access")}
    assert "declared later" in errors[0]["message"]


def test_weight_for_an_undeclared_score_is_an_error(doc):
    doc["indicators"][0]["weights"]["wellbeing"] = 0
    with pytest.raises(ScoringError, match="wellbeing"):
        parse_spec(doc)


def test_missing_provenance_is_an_error(doc):
    del doc["provenance"]
    with pytest.raises(ScoringError) as exc_info:
        parse_spec(doc)
    assert only_error(exc_info)["name"] == "provenance"


def test_field_missing_from_the_form_names_the_row(doc, model):
    doc["indicators"][row_of(doc, "distress") - 1]["field"] = "distress_level"
    with pytest.raises(ScoringError) as exc_info:
        check_spec(parse_spec(doc), model)
    error = only_error(exc_info)
    assert exc_info.value.code == "scoring_spec_form_mismatch"
    assert (error["sheet"], error["row"], error["name"]) == (
        "indicators", row_of(doc, "distress"), "distress")
    assert "distress_level" in error["message"]


def test_choice_missing_from_the_list_names_the_row(doc, model):
    doc["indicators"][row_of(doc, "has_id_document") - 1]["values"]["expired"] = 0.5
    with pytest.raises(ScoringError) as exc_info:
        check_spec(parse_spec(doc), model)
    error = only_error(exc_info)
    assert error["row"] == row_of(doc, "has_id_document")
    assert "'expired' is not in list 'yes_no'" in error["message"]


def test_choice_of_the_form_without_a_value_is_reported(doc, model):
    del doc["value_sets"][0]["values"]["neutral"]  # satisfaction5
    with pytest.raises(ScoringError) as exc_info:
        check_spec(parse_spec(doc), model)
    error = only_error(exc_info)
    assert error["row"] == row_of(doc, "econ_satisfaction")
    assert "'neutral'" in error["message"] and "has no value" in error["message"]


def test_not_asked_condition_on_an_unknown_choice_is_reported(doc, model):
    row = doc["indicators"][row_of(doc, "debt_vs_spending") - 1]
    row["not_asked"]["when"]["in"] = ["none"]
    with pytest.raises(ScoringError) as exc_info:
        check_spec(parse_spec(doc), model)
    assert only_error(exc_info)["name"] == "debt_vs_spending"


def test_any_of_on_a_select_one_is_reported(doc, model):
    doc["indicators"][row_of(doc, "can_borrow") - 1]["method"] = "any_of"
    with pytest.raises(ScoringError, match="select_multiple"):
        check_spec(parse_spec(doc), model)


def test_unknown_spec_version_is_a_404_error():
    with pytest.raises(ScoringError) as exc_info:
        load_spec("rss-v99")
    assert (exc_info.value.code, exc_info.value.status) == ("scoring_spec_unknown", 404)
    assert "rss-v1" in exc_info.value.message


def test_spec_file_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "version": "x",\n  oops\n}\n')
    with pytest.raises(ScoringError) as exc_info:
        load_spec(path)
    assert exc_info.value.details["errors"][0]["row"] == 3


def test_error_has_the_same_shape_as_forms_errors():
    from forms.errors import FormsError

    forms_error = FormsError("xlsform_invalid", "m", {"errors": []})
    scoring_error = ScoringError("scoring_spec_invalid", "m", {"errors": []})
    for attr in ("code", "message", "status", "details"):
        assert type(getattr(scoring_error, attr)) is type(getattr(forms_error, attr))


def test_a_deployment_can_install_a_replacement_spec_without_code(tmp_path, doc, model,
                                                                  monkeypatch):
    doc["version"] = "rss-v2"
    doc["value_sets"][6]["values"]["all_the_time"] = 0.1  # discrimination5
    (tmp_path / "rss-v2.json").write_text(json.dumps(doc))
    monkeypatch.setenv("FIELDSYNC_SCORING_SPECS", str(tmp_path))
    assert {"rss-v1", "rss-v2"} <= set(available_specs())
    spec = spec_for_form(model, version="rss-v2")
    assert spec.version == "rss-v2"
    assert spec.indicator("discrimination").values["all_the_time"] == 0.1


def test_form_without_declaration_falls_back_to_a_spec_for_its_form_id(model):
    undeclared = copy.copy(model)
    undeclared.fields = {p: f for p, f in model.fields.items() if f.name != "scoring_spec"}
    assert declared_spec_version(undeclared) is None
    assert spec_for_form(undeclared).version == "rss-v1"
    undeclared.form_id = "household"
    assert spec_for_form(undeclared) is None


def test_load_spec_accepts_a_dict_json_text_or_bytes(doc):
    text = json.dumps(doc)
    for source in (doc, text, text.encode()):
        assert load_spec(source).version == "rss-v1"
