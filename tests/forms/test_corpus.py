"""The corpus of tests/fixtures/corpus: forms that use the XLSForm reference
construct by construct (every question type, every column, every function,
nested groups and repeats, several languages, external choices and CSV/XML
media, an entities sheet, settings as people type them). Each converts, no
expression in it is refused, and `forms check` runs generated submissions
through it without a crash."""

from __future__ import annotations

import json
import random

import pytest

from forms.check import check_files
from forms.expressions import check_form, expression_report
from forms.validate import validate_record
from tests.conftest import CORPUS
from tests.helpers.submissions import sample_data

FINDING_CODES = {"unknown_field", "type_invalid", "choice_unknown", "choice_filtered_out",
                 "required_missing", "constraint_failed", "answered_not_relevant",
                 "repeat_count_mismatch", "calculate_mismatch", "expression_error",
                 "expression_not_checked"}
NAMES = sorted(p.name for p in CORPUS.glob("*.md"))


def test_the_corpus_covers_each_part_of_the_reference():
    assert {"question_types.md", "columns.md", "functions.md", "nested.md", "languages.md",
            "external.md", "entities.md", "unchecked.md"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_corpus_form_has_no_expression_a_tablet_would_refuse(corpus, name):
    assert check_form(corpus[name].model) == []


@pytest.mark.parametrize("name", NAMES)
def test_forms_check_runs_generated_submissions_through_the_corpus_form(corpus, name, tmp_path):
    model = corpus[name].model
    paths = []
    for seed in range(3):
        path = tmp_path / f"record{seed}.json"
        record = {"form_id": model.form_id, "form_version": model.version,
                  "data": sample_data(model, random.Random(seed))}
        path.write_text(json.dumps(record), encoding="utf-8")
        paths.append(path)
    findings = list(check_files(CORPUS / name, paths))
    assert {f["code"] for f in findings} <= FINDING_CODES
    assert all(set(f) >= {"file", "path", "code", "message", "severity"} for f in findings)
    assert not any(f["code"] == "expression_error" for f in findings), findings


def test_only_what_the_server_cannot_evaluate_is_left_unchecked_in_the_corpus(corpus):
    unchecked = {name: sorted((e["path"], e["attribute"]) for e in
                              expression_report(corpus[name].model) if not e["checked"])
                 for name in NAMES}
    assert {name: paths for name, paths in unchecked.items() if paths} == {
        "functions.md": [("f_property", "calculate")],
        "unchecked.md": [("count", "relevant"), ("last_vill", "calculate"),
                         ("phone", "calculate"), ("village", "constraint")],
    }


def test_a_corpus_record_the_tablet_computed_validates_without_findings(corpus):
    model = corpus["nested.md"].model
    data = {"hh": {"hh_name": "Diallo", "address": {"village": "Kindia"}},
            "member": [
                {"m_name": "Awa", "m_age": "34", "m_no": "1", "n_jobs": "1",
                 "job": [{"job_title": "farmer", "job_hours": "9",
                          "shift": [{"hours": "4", "shift_no": "1", "first_title": "farmer"},
                                    {"hours": "5", "shift_no": "2", "first_title": "farmer"}]}]},
                {"m_name": "Ibra", "m_age": "9", "m_no": "2"}],
            "n_members": "2", "first_name": "Awa", "deep_hours": "5", "oldest": "34",
            "all_hours": "9"}
    assert validate_record(model, data) == []
