"""Every form of the corpus publishes as it is; its media files attach; generated
records go through ingest; forms with any form_id text are served to Collect by
the OpenRosa form list and download URLs.

One store for the module (publishing is the costly part), in-process: the
registry and ingest functions, and the Flask test client for the URLs.
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest
from lxml import etree

from server.accounts.users import token_create, user_add
from server.app import create_app
from server.ingest.pipeline import ingest
from server.openrosa.media import media_add
from server.registry import publish as registry
from server.store import open_db
from tests.conftest import CORPUS
from tests.helpers.submissions import sample_data

NAMES = sorted(p.name for p in CORPUS.glob("*.md"))
XFORMS_LIST = "{http://openrosa.org/xforms/xformsList}"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "store.db"
    db = open_db(path, migrate=True)
    db.path = path
    answers = {name: registry.forms_publish(db, (CORPUS / name).read_bytes(), name, "ama")
               for name in NAMES}
    db.published = answers
    yield db
    db.close()


def test_every_corpus_form_publishes(store):
    assert [name for name, answer in store.published.items() if not answer["created"]] == []
    ids = {answer["form_id"] for answer in store.published.values()}
    assert {"Spec test", "2011_07_25 transportation survey", "question_types", "external",
            "tree_survey"} <= ids
    assert store.published["Spec test settings.md"]["version"] == "2023-05-02 10:43:54"


def test_publish_answers_which_expressions_the_server_checks(store):
    functions = store.published["functions.md"]
    assert functions["expressions"]["not_checked"] == 1
    assert functions["expressions"]["checked"] == 57  # 53 calculates and 4 constraints
    [finding] = functions["findings"]
    assert finding["code"] == "expression_not_checked"
    assert finding["expressions"] == [{
        "field": "f_property", "attribute": "calculate", "function": "property()",
        "reason": "it reads a property of the tablet (device id, user name, phone number), "
                  "which the server does not know"}]
    external = store.published["external.md"]
    assert external["findings"] == [] and external["expressions"]["not_checked"] == 0
    assert external["expressions"]["media"] == ["households.csv", "towns.csv", "zones.xml"]


def test_two_forms_without_a_form_id_become_two_forms_named_after_their_files(store):
    survey = b"| survey |\n| | type | name | label |\n| | text | q | Q |\n"
    first = registry.forms_publish(store, survey, "wells.md")
    second = registry.forms_publish(store, survey + b"| | integer | n | N |\n", "latrines.md")
    assert (first["form_id"], second["form_id"]) == ("wells", "latrines")
    assert [f["form_id"] for f in registry.forms_list(store) if f["form_id"] == "data"] == []


@pytest.mark.parametrize("name", NAMES)
def test_generated_records_of_each_corpus_form_go_through_ingest(store, name):
    answer = store.published[name]
    model = registry.model_get(store, answer["form_id"], answer["version"])
    for media in answer["expressions"]["media"]:
        media_add(store, answer["form_id"], answer["version"], media, "text/csv",
                  (CORPUS / media).read_bytes(), actor="ama")
    records = [{"instance_id": f"uuid:{name}-{seed}", "form_id": model.form_id,
                "form_version": model.version, "data": sample_data(model, random.Random(seed))}
               for seed in range(3)]
    results = ingest(store, records, door="sync", user="ama")
    assert [r["status"] for r in results if r["status"] not in ("created", "flagged")] == []
    stored = store.execute("SELECT count(*) FROM submissions WHERE form_id = ?",
                           [model.form_id]).fetchone()[0]
    assert stored == 3


def test_a_pulldata_constraint_judges_records_once_its_csv_is_uploaded(store):
    answer = store.published["external.md"]
    record = {"instance_id": "uuid:pulldata-1", "form_id": "external",
              "form_version": answer["version"],
              "data": {"hh_id": "H001", "hh_head": "Awa Diallo", "hh_size": "4",
                       "members": "12"}}
    media_add(store, "external", answer["version"], "households.csv", "text/csv",
              (CORPUS / "households.csv").read_bytes())
    [result] = ingest(store, [record], door="sync", user="ama")
    findings = store.execute("SELECT findings FROM submissions WHERE instance_id = ?",
                             ["uuid:pulldata-1"]).fetchone()[0]
    assert result["status"] == "flagged" and "constraint_failed" in findings


@pytest.fixture(scope="module")
def client(store):
    user_add(store, "enum", "enumerator")
    token = token_create(store, "enum")
    app = create_app({"DATABASE": str(store.path)})
    http = app.test_client()
    http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return http


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("form_id", ["Spec test", "a/b", "..", "~tilde", "enquête ménage"])
def test_collect_downloads_a_form_whatever_its_form_id(store, client, form_id):
    version = "2023-05-02 10:43:54"
    source = (f"| survey |\n| | type | name | label |\n| | text | q | Q |\n"
              f"| settings |\n| | form_id | version |\n| | {form_id} | {version} |\n")
    registry.forms_publish(store, source.encode(), "odd.md")
    r = client.get("/formList")
    assert r.status_code == 200
    entries = {x.findtext(f"{XFORMS_LIST}formID"): x
               for x in etree.fromstring(r.data).iter(f"{XFORMS_LIST}xform")}
    entry = entries[form_id]
    download = client.get(_path(entry.findtext(f"{XFORMS_LIST}downloadUrl")))
    assert download.status_code == 200
    assert f'id="{form_id}"'.encode() in download.data.replace(b"&quot;", b'"')
    api = client.get(_path(entry.findtext(f"{XFORMS_LIST}downloadUrl")).replace(
        "/forms/", "/api/v1/forms/", 1))
    assert api.status_code == 200 and api.data == download.data


def test_the_manifest_of_a_form_reading_media_lists_its_files(store, client):
    answer = store.published["external.md"]
    r = client.get("/formList?formID=external")
    [entry] = etree.fromstring(r.data).iter(f"{XFORMS_LIST}xform")
    manifest = client.get(_path(entry.findtext(f"{XFORMS_LIST}manifestUrl")))
    assert manifest.status_code == 200 and b"households.csv" in manifest.data
    assert answer["form_id"] == "external"
