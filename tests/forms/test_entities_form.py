"""Entity declarations read from XForms, and entity blocks in submitted instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.entities import computed_block, read_declaration, setvalues
from forms.errors import FormsError
from forms.instance import instance_to_record, record_to_instance
from forms.model import Choice
from forms.xlsform import convert_xlsform

RSS_MD = Path(__file__).resolve().parents[2] / "forms" / "builtin" / "rss.md"
ENTITY_ID = "3f0a7c1e-5b2d-4c8e-9a1f-2b3c4d5e6f70"
CREATE_ONLY = """| survey |
| | type | name | label | save_to |
| | text | tree | Tree | species |
| | integer | girth | Girth | girth_cm |
| entities |
| | list_name | label |
| | trees | ${tree} |
| settings |
| | form_id | version |
| | trees_reg | 1 |
"""


@pytest.fixture(scope="module")
def rss():
    return convert_xlsform(RSS_MD.read_bytes(), "rss.md")


def test_the_rss_fills_the_returnees_list_from_four_answers(rss):
    decl = read_declaration(rss.xform)
    assert decl.dataset == "returnees" and decl.spec_version == "2024.1.0"
    assert decl.properties == {"case_id": "case_id", "return_date": "return_date",
                               "country_of_return": "country_of_return", "sex": "sex"}
    assert decl.may_create and decl.may_update
    assert {"id", "create", "update", "baseVersion", "label"} <= set(decl.calculates)


def test_picking_a_returnee_prefills_the_case_fields(rss):
    changed = {a.target for a in setvalues(rss.xform) if a.trigger == "returnee"}
    assert changed == {"case_id", "return_date", "country_of_return", "sex"}
    first = [a for a in setvalues(rss.xform) if a.event == "odk-instance-first-load"]
    assert [(a.target, a.value) for a in first] == [("new_returnee_id", "uuid()")]


def test_a_create_only_form_gets_its_id_from_a_first_load_uuid():
    decl = read_declaration(convert_xlsform(CREATE_ONLY.encode(), "t.md").xform)
    assert decl.dataset == "trees" and decl.may_create and not decl.may_update
    assert decl.calculates["id"] == "uuid()"
    assert decl.properties == {"species": "tree", "girth_cm": "girth"}


def test_a_form_without_entities_declares_none():
    plain = CREATE_ONLY.split("| entities |")[0].replace("| save_to |", "|").replace(
        "| species |", "|").replace("| girth_cm |", "|")
    plain += "| settings |\n| | form_id | version |\n| | plain | 1 |\n"
    assert read_declaration(convert_xlsform(plain.encode(), "p.md").xform) is None


def test_a_newer_entities_spec_is_refused(rss):
    newer = rss.xform.replace('entities-version="2024.1.0"', 'entities-version="2030.1.0"')
    with pytest.raises(FormsError) as err:
        read_declaration(newer)
    assert err.value.code == "xlsform_invalid" and "2030.1.0" in err.value.message


def test_the_entity_element_of_an_instance_travels_in_the_envelope_and_back(rss):
    xml = (f'<data id="rss" version="{rss.version}"><case_id>GIN-1</case_id>'
           '<meta><instanceID>uuid:11111111-2222-3333-4444-555555555555</instanceID>'
           f'<entity dataset="returnees" id="{ENTITY_ID}" create="0" update="1" '
           'baseVersion="3" trunkVersion="" branchId=""><label>GIN-1</label></entity>'
           '</meta></data>').encode()
    record = instance_to_record(xml, rss.model)
    assert "meta" not in record["data"]  # nothing for validation to trip on
    assert record["entity"] == {"dataset": "returnees", "id": ENTITY_ID, "create": "0",
                                "update": "1", "baseVersion": "3", "trunkVersion": "",
                                "branchId": "", "label": "GIN-1"}
    again = instance_to_record(record_to_instance(record, rss.model), rss.model)
    assert again["entity"] == record["entity"] and again["data"] == record["data"]


def test_a_client_computes_the_block_from_the_answers_and_the_list_it_holds(rss):
    model = rss.model
    model.choices["returnees"] = [Choice(name=ENTITY_ID, labels={"default": "GIN-1"},
                                         extra={"__version": "4", "case_id": "GIN-1"})]
    decl = read_declaration(rss.xform)
    follow_up = computed_block(decl, model, {"returnee": ENTITY_ID, "case_id": "GIN-1",
                                             "survey_round": "6m"})
    assert (follow_up["id"], follow_up["update"], follow_up["create"],
            follow_up["baseVersion"], follow_up["label"]) == (ENTITY_ID, "true", "false", "4",
                                                              "GIN-1")
    new_id = "0b9d3b8e-1f2a-4c3d-8e9f-0a1b2c3d4e5f"
    baseline = computed_block(decl, model, {"case_id": "GIN-2", "survey_round": "baseline",
                                            "new_returnee_id": new_id})
    assert (baseline["id"], baseline["create"], baseline["update"], baseline["baseVersion"]) \
        == (new_id, "true", "false", "")
