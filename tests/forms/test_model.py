"""The compiled form model: what the server keeps of a published form."""

from forms.model import FormModel
from forms.xlsform import convert_xlsform
from tests.conftest import FIXTURES


def compiled():
    return convert_xlsform((FIXTURES / "household.md").read_bytes(), "household.md").model


def test_model_round_trips_through_json_keeping_document_order():
    model = compiled()
    again = FormModel.from_json(model.to_json())
    assert again == model
    assert list(again.fields) == list(model.fields)
    assert list(again.fields)[:3] == ["case_id", "econ", "econ/working"]


def test_model_reads_types_binds_choices_and_languages_from_the_xform():
    model = compiled()
    working = model.fields["econ/working"]
    assert working.is_select_one and working.list_name == "yn" and working.required == "true()"
    assert model.fields["econ/assets"].is_select_multiple
    assert model.fields["econ/age"].type == "int"
    assert model.fields["members"].kind == "repeat"
    assert model.fields["members/m_age"].repeat == "members"
    assert model.fields["members/dbl"].kind == "calculate"
    assert [c.name for c in model.choices["yn"]] == ["yes", "no"]
    assert model.choices["yn"][0].extra == {"score": "1"}
    assert model.choices["yn"][1].labels["French (fr)"] == "Non"
    assert model.languages == ["English (en)", "French (fr)"]
    assert model.resolve("m_age").path == "members/m_age"
