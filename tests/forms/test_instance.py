"""XForm instance XML <-> submission record, through the form model."""

from __future__ import annotations

import pytest
from lxml import etree

from forms.errors import FormsError
from forms.instance import instance_to_record, record_to_instance
from forms.xlsform import convert_xlsform

VISITS_MD = b"""\
| survey |
| | type | name | label | calculation |
| | text | village | Village | |
| | image | site_photo | Photo of the site | |
| | begin group | hh | Household | |
| | text | head | Head of household | |
| | begin repeat | member | Member | |
| | text | name | Name | |
| | integer | age | Age | |
| | begin repeat | visit | Visit | |
| | date | when | When | |
| | image | photo | Photo | |
| | end repeat | | | |
| | end repeat | | | |
| | end group | | | |
| | select_multiple assets | assets | Assets | |
| | calculate | n_members | | count(${member}) |
| choices |
| | list_name | name | label |
| | assets | land | Land |
| | assets | goats | Goats |
| settings |
| | form_id | version | form_title | instance_name |
| | visits | 3 | Household visits | concat('Visit ', ${village}) |
"""

INSTANCE = b"""<?xml version='1.0' ?>
<data id="visits" version="3" xmlns:jr="http://openrosa.org/javarosa"
      xmlns:orx="http://openrosa.org/xforms">
  <village>Kindia</village>
  <site_photo>1700000000001.jpg</site_photo>
  <hh>
    <head>Aissatou</head>
    <member>
      <name>Aissatou</name><age>34</age>
      <visit><when>2026-01-02</when><photo>v1.jpg</photo></visit>
      <visit><when>2026-02-03</when><photo/></visit>
    </member>
    <member>
      <name>Mamadou</name><age>9</age>
      <visit><when>2026-01-05</when><photo>v3.jpg</photo></visit>
    </member>
  </hh>
  <assets>land goats</assets>
  <n_members>2</n_members>
  <orx:meta>
    <orx:instanceID>uuid:0b6c7f3e-1111-4a2b-9c3d-000000000001</orx:instanceID>
    <orx:deprecatedID>uuid:0b6c7f3e-1111-4a2b-9c3d-000000000000</orx:deprecatedID>
    <orx:instanceName>Visit Kindia</orx:instanceName>
    <orx:audit>audit.csv</orx:audit>
  </orx:meta>
</data>"""


@pytest.fixture(scope="module")
def model():
    return convert_xlsform(VISITS_MD, "visits.md").model


def test_groups_become_dicts_and_nested_repeats_lists_in_order(model):
    record = instance_to_record(INSTANCE, model)
    members = record["data"]["hh"]["member"]
    assert [m["name"] for m in members] == ["Aissatou", "Mamadou"]
    assert [v["when"] for v in members[0]["visit"]] == ["2026-01-02", "2026-02-03"]
    assert members[1]["visit"] == [{"when": "2026-01-05", "photo": "v3.jpg"}]
    assert record["data"]["hh"]["head"] == "Aissatou"


def test_values_stay_the_instance_text(model):
    data = instance_to_record(INSTANCE, model)["data"]
    assert data["assets"] == "land goats"
    assert data["hh"]["member"][0]["age"] == "34"
    assert data["hh"]["member"][0]["visit"][1]["photo"] == ""


def test_meta_moves_to_the_envelope_with_the_root_ids(model):
    record = instance_to_record(INSTANCE, model)
    assert record["instance_id"] == "uuid:0b6c7f3e-1111-4a2b-9c3d-000000000001"
    assert record["deprecated_id"] == "uuid:0b6c7f3e-1111-4a2b-9c3d-000000000000"
    assert record["instance_name"] == "Visit Kindia"
    assert (record["form_id"], record["form_version"]) == ("visits", "3")
    assert record["data"]["meta"] == {"audit": "audit.csv"}


def test_meta_without_the_orx_prefix_is_read_the_same(model):
    plain = INSTANCE.replace(b"orx:", b"")
    assert instance_to_record(plain, model) == instance_to_record(INSTANCE, model)


def test_a_repeat_with_one_instance_is_still_a_list_when_the_model_says_so(model):
    one = INSTANCE.replace(b"<member>\n      <name>Mamadou", b"<other>\n      <name>Mamadou")
    one = one.replace(b"v3.jpg</photo></visit>\n    </member>", b"v3.jpg</photo></visit>\n"
                      b"    </other>")
    data = instance_to_record(one, model)["data"]
    assert isinstance(data["hh"]["member"], list) and len(data["hh"]["member"]) == 1


def test_without_a_model_repeated_siblings_become_lists():
    data = instance_to_record(INSTANCE)["data"]
    assert [m["name"] for m in data["hh"]["member"]] == ["Aissatou", "Mamadou"]
    assert data["hh"]["member"][1]["visit"] == {"when": "2026-01-05", "photo": "v3.jpg"}


def test_record_to_instance_round_trips(model):
    record = instance_to_record(INSTANCE, model)
    again = instance_to_record(record_to_instance(record, model), model)
    assert again == record


def test_record_to_instance_writes_fields_in_form_order(model):
    record = {"instance_id": "uuid:0b6c7f3e-1111-4a2b-9c3d-000000000009",
              "form_id": "visits", "form_version": "3",
              "data": {"n_members": "0", "assets": "land", "village": "Boke"}}
    root = etree.fromstring(record_to_instance(record, model))
    assert [c.tag for c in root] == ["village", "assets", "n_members", "meta"]
    assert root.get("id") == "visits" and root.get("version") == "3"
    assert root.findtext("meta/instanceID") == record["instance_id"]


def test_record_keys_given_as_paths_or_bare_names_are_nested(model):
    record = {"instance_id": "uuid:0b6c7f3e-1111-4a2b-9c3d-000000000009",
              "form_id": "visits", "form_version": "3",
              "data": {"hh/head": "Fanta", "village": "Boke"}}
    data = instance_to_record(record_to_instance(record, model), model)["data"]
    assert data == {"village": "Boke", "hh": {"head": "Fanta"}}


def test_entity_declarations_are_refused_not_expanded():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><data id="x">&b;</data>')
    with pytest.raises(FormsError) as err:
        instance_to_record(laughs)
    assert err.value.code == "xml_forbidden"


def test_malformed_xml_is_refused_with_xml_invalid():
    with pytest.raises(FormsError) as err:
        instance_to_record(b"<data id='x'><a></data>")
    assert err.value.code == "xml_invalid"
