"""The settings sheet read as ODK Central reads it: any form_id and version text is
kept, and a form without a form_id is named after its file."""

from __future__ import annotations

import pytest

from forms.errors import FormsError
from forms.xlsform import convert_xlsform

SURVEY = "| survey |\n| | type | name | label |\n| | text | q | Q |\n"


def form(settings: str = "", filename: str = "form.md"):
    return convert_xlsform((SURVEY + settings).encode(), filename)


@pytest.mark.parametrize(("form_id", "version"), [
    ("Spec test", "2023-05-02 10:43:54"),  # a version cell typed as an Excel date
    ("2011_07_25_transportation", "1"), ("enquête ménage", "v1.2 (final)"),
    ("a/b", "2024/05"), ("x'y", "10:43"),
])
def test_any_form_id_and_version_text_is_kept_as_written(form_id, version):
    compiled = form(f"| settings |\n| | form_id | version |\n| | {form_id} | {version} |\n")
    assert (compiled.form_id, compiled.version) == (form_id, version)
    assert (compiled.model.form_id, compiled.model.version) == (form_id, version)


def test_a_form_without_form_id_is_named_after_its_file_not_its_root():
    compiled = form("| settings |\n| | form_title | version |\n| | Survey | 3 |\n",
                    "Returnee follow-up (round 2).xlsx".replace(".xlsx", ".md"))
    assert compiled.form_id == "Returnee follow-up (round 2)"
    assert compiled.model.root == "data" and compiled.title == "Survey"


def test_two_forms_without_form_id_are_two_forms():
    first = form("", "villages.md")
    second = form("", "markets.md")
    assert (first.form_id, second.form_id) == ("villages", "markets")


def test_the_fallback_name_is_the_files_own_name_without_its_folders():
    assert form("", "C:\\Users\\ama\\Wells survey.md").form_id == "Wells survey"
    assert form("", "uploads/latrines.md").form_id == "latrines"


def test_a_blank_form_id_falls_back_to_the_file_name():
    compiled = form("| settings |\n| | form_id | version |\n| |  | 4 |\n", "clinic.md")
    assert (compiled.form_id, compiled.version) == ("clinic", "4")


def test_a_missing_version_is_the_sources_hash_as_before():
    compiled = form("", "clinic.md")
    assert len(compiled.version) == 12 and f'version="{compiled.version}"' in compiled.xform


def test_a_form_id_that_is_a_pasted_paragraph_is_refused_with_what_to_fix():
    with pytest.raises(FormsError) as info:
        form(f"| settings |\n| | form_id |\n| | {'x' * 1001} |\n")
    assert info.value.code == "xlsform_invalid"
    assert "form_id is 1001 characters long" in info.value.message
