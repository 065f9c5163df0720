"""The OData documents hold together: the metadata document is valid CSDL
(OASIS schemas, tests/fixtures/odata-csdl) except for Central's own names, and
every entity set's JSON is what the metadata declares.

In-process (Flask test client) on a store with the RSS form and a form with a
group holding a repeat that holds a group and a repeat (tests/fixtures/central).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from lxml import etree

from server.accounts.users import token_create, user_add
from server.app import create_app
from server.ingest.pipeline import ingest
from server.ops.serve import prepare_store
from server.registry.publish import forms_publish
from server.review.actions import review_set
from server.store import open_db
from tests.helpers.forwarding import rss_records, rss_version

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def visit(iid: str, *, age="34", when="2026-01-05T10:00:00.000+01:00", gps="9.5 -13.7 12 5",
          jobs=("farmer",)) -> bytes:
    work = "".join(f"<jobs><job>{j}</job><plot.area>0.5</plot.area></jobs>" for j in jobs)
    return (f'<data id="visit" version="1"><village>Kindia</village><gps>{gps}</gps>'
            f"<photo>a.jpg</photo><visit_time>{when}</visit_time><assets>land cow</assets>"
            f"<hh><hh-size>2</hh-size><members><name>Ama</name><age>{age}</age>"
            f"<income>2.5</income><health><sick>yes</sick></health>{work}</members>"
            f"<members><name>Kofi</name><age>9</age></members></hh>"
            f"<meta><instanceID>{iid}</instanceID></meta></data>").encode()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("odata") / "odata.db"
    prepare_store(str(path))
    db = open_db(path)
    user_add(db, "ana", "analyst")
    user_add(db, "sam", "supervisor")
    forms_publish(db, (FIXTURES / "central" / "visit.md").read_bytes(), "visit.md")
    records = rss_records(6, rss_version(db), seed=11)
    ingest(db, records, door="sync", user="sam", device_id="tab-1", office="gin")
    review_set(db, records[1]["instance_id"], "approved", actor="sam")
    review_set(db, records[2]["instance_id"], "has_issues", actor="sam")
    headers = {"Authorization": f"Bearer {token_create(db, 'ana')}"}
    sam = {"Authorization": f"Bearer {token_create(db, 'sam')}"}
    db.close()
    app = create_app({"DATABASE": str(path)})
    c = app.test_client()
    c.odd = f"uuid:{uuid.uuid4()}"
    for body in (visit(f"uuid:{uuid.uuid4()}"), visit(f"uuid:{uuid.uuid4()}", jobs=()),
                 visit(c.odd, age="abc", when="yesterday", gps="nowhere")):
        r = c.post("/v1/projects/1/forms/visit/submissions", data=body, headers=sam)
        assert r.status_code == 200, r.data
    c.headers = headers
    c.path = path
    return c


def get(client, url, **kw):
    r = client.get(url, headers=client.headers, **kw)
    assert r.status_code == 200, r.data
    return r


def metadata(client, form: str) -> etree._Element:
    return etree.fromstring(get(client, f"/v1/projects/1/forms/{form}.svc/$metadata").data)


@pytest.mark.parametrize("form,central_names", [
    # The RSS baseline creates the returnee's entity: its meta block holds the
    # entity group, a complex type Central names with a dot.
    ("rss", {"meta.entity"}),
    ("visit", {"Submissions.hh.members", "Submissions.hh.members.jobs", "hh.members.health",
               "__Submissions-id", "__Submissions-hh-members-id"}),
])
def test_metadata_validates_against_the_csdl_schemas_but_for_centrals_names(
        client, form, central_names):
    schema = etree.XMLSchema(etree.parse(str(FIXTURES / "odata-csdl" / "edmx.xsd")))
    schema.validate(metadata(client, form))
    refused = set()
    for error in schema.error_log:
        match = re.search(r"attribute 'Name': \[facet 'pattern'\] The value '([^']+)'",
                          error.message)
        assert match, error.message  # nothing but Central's names breaks the schema
        refused.add(match.group(1))
    assert refused == central_names


def _types(doc: etree._Element) -> dict[str, dict]:
    """Qualified type name -> {"props": {name: type}, "nav": {name: type}} or enum members."""
    out = {}
    for schema in doc.iter(f"{EDM}Schema"):
        ns = schema.get("Namespace")
        for el in schema:
            tag = etree.QName(el).localname
            if tag in ("EntityType", "ComplexType"):
                out[f"{ns}.{el.get('Name')}"] = {
                    "props": {p.get("Name"): p.get("Type") for p in el.findall(f"{EDM}Property")},
                    "nav": {p.get("Name"): p.get("Type")
                            for p in el.findall(f"{EDM}NavigationProperty")}}
            elif tag == "EnumType":
                out[f"{ns}.{el.get('Name')}"] = {"enum": {m.get("Name") for m in el}}
    return out


def _check(value, type_name: str, types: dict, where: str, wkt: bool) -> None:
    if value is None:
        return
    if wkt and type_name.startswith("Edm.Geography"):  # $wkt=true: Well-Known Text
        assert re.match(r"^(POINT|LINESTRING|POLYGON) \(", value), where
    elif type_name == "Edm.String":
        assert isinstance(value, str), where
    elif type_name == "Edm.Int64":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif type_name == "Edm.Decimal":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    elif type_name == "Edm.Boolean":
        assert isinstance(value, bool), where
    elif type_name == "Edm.Date":
        assert DATE.match(value), where
    elif type_name == "Edm.DateTimeOffset":
        assert DATETIME.match(value), (where, value)
    elif type_name == "Edm.GeographyPoint":
        assert value["type"] == "Point" and 2 <= len(value["coordinates"]) <= 3, where
        assert all(isinstance(n, (int, float)) for n in value["coordinates"]), where
    elif "enum" in types[type_name]:
        assert value in types[type_name]["enum"], where
    else:
        _check_structure(value, types[type_name], types, where, wkt)


def _check_structure(row: dict, spec: dict, types: dict, where: str, wkt: bool) -> None:
    assert isinstance(row, dict), where
    for key, value in row.items():
        if "@" in key:
            prop, _, annotation = key.partition("@")
            assert annotation == "odata.navigationLink" and prop in spec["nav"], where
            assert isinstance(value, str) and value.startswith("Submissions('"), where
            continue
        if key in spec["nav"]:
            entity = spec["nav"][key][len("Collection("):-1]
            for item in value:
                _check_structure(item, types[entity], types, f"{where}/{key}", wkt)
            continue
        assert key in spec["props"], f"{where}/{key} is not declared"
        _check(value, spec["props"][key], types, f"{where}/{key}", wkt)
    assert set(spec["props"]) <= set(row), f"{where}: missing {set(spec['props']) - set(row)}"


@pytest.mark.parametrize("form", ["rss", "visit"])
def test_every_entity_set_json_matches_its_declared_types(client, form):
    doc = metadata(client, form)
    types = _types(doc)
    sets = {s.get("Name"): s.get("EntityType") for s in doc.iter(f"{EDM}EntitySet")}
    service = get(client, f"/v1/projects/1/forms/{form}.svc").json
    assert [v["name"] for v in service["value"]] == list(sets)
    for name, entity in sets.items():
        for query in ("", "?$expand=*", "?$wkt=true"):
            rows = get(client, f"/v1/projects/1/forms/{form}.svc/{name}{query}").json["value"]
            assert rows, (name, query)
            for row in rows:
                _check_structure(row, types[entity], types, name, wkt=bool(query == "?$wkt=true"))


def test_answers_the_declared_type_cannot_hold_are_null_and_kept_in_the_store(client):
    row = get(client, "/v1/projects/1/forms/visit.svc/Submissions"
              f"?$filter=__id eq '{client.odd}'&$expand=*").json["value"][0]
    assert row["visit_time"] is None and row["gps"] is None
    assert row["hh"]["members"][0]["age"] is None
    kept = get(client, f"/api/v1/submissions/{client.odd}").json["data"]
    assert kept["visit_time"] == "yesterday" and kept["gps"] == "nowhere"
    assert kept["hh"]["members"][0]["age"] == "abc"


def test_fieldsyncs_extras_sit_in_system(client):
    rows = get(client, "/v1/projects/1/forms/rss.svc/Submissions").json["value"]
    system = rows[1]["__system"]
    assert system["reviewState"] == "approved" and system["office"] == "gin"
    assert system["scoringVersion"] == "rss-v1"
    assert set(system["scores"]) == {"economic", "social", "psychosocial", "composite"}
    assert rows[2]["__system"]["reviewState"] == "hasIssues"
    assert {r["__system"]["validation"] for r in rows} <= {"valid", "invalid"}
    assert all(r["__system"]["conflict"] is False for r in rows)
