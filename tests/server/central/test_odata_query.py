"""OData query options and the Central API's edges: the $filter grammar, paging
by Prefer and $orderby, refusals with Central's codes, sessions that expire or
belong to a disabled account, and Central's CSV zip layout.

The HTTP tests run in-process on one small store (RSS records and the visit form).
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
import zipfile
from pathlib import Path

import pytest

from server.accounts.users import token_create, user_add
from server.app import create_app
from server.central.errors import CentralError
from server.central.odata_query import parse_filter, parse_table
from server.ingest.pipeline import ingest
from server.ops.serve import prepare_store
from server.registry.publish import forms_publish
from server.store import open_db
from tests.helpers.forwarding import rss_records, rss_version
from tests.helpers.central import visit_xml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "central"
PASSWORD = "secret-pw-2"


# The $filter grammar -------------------------------------------------------------

def test_filter_binds_not_tighter_than_and_tighter_than_or():
    node = parse_filter("not a eq 1 and b eq 'x''y' or c ne null")
    assert node == ("or",
                    ("and", ("not", ("cmp", "eq", ("prop", ("a",)), ("lit", 1, "number"))),
                     ("cmp", "eq", ("prop", ("b",)), ("lit", "x'y", "string"))),
                    ("cmp", "ne", ("prop", ("c",)), ("lit", None, "null")))


def test_filter_reads_dates_times_functions_and_root_paths():
    node = parse_filter("year(__system/submissionDate) ge 2026 and "
                        "$root/Submissions/__system/updatedAt lt 2026-03-01T00:00:00+01:00 "
                        "and contains(village, 'Kin') and age neq -2.5")
    _, (_, (_, first, second), third), fourth = node  # and-ed from the left
    assert first == ("cmp", "ge", ("call", "year",
                                        (("prop", ("__system", "submissionDate")),)),
                          ("lit", 2026, "number"))
    assert second == ("cmp", "lt", ("prop", ("$root", "Submissions", "__system",
                                                 "updatedAt")),
                          ("lit", "2026-03-01T00:00:00+01:00", "datetime"))
    assert third == ("call", "contains", (("prop", ("village",)), ("lit", "Kin", "string")))
    assert fourth == ("cmp", "ne", ("prop", ("age",)), ("lit", -2.5, "number"))


@pytest.mark.parametrize("text,code", [
    ("age add 1 eq 2", "odata_unsupported"),
    ("substringof('a', village)", "odata_unsupported"),
    ("age eq", "odata_query_invalid"),
    ("(age eq 1", "odata_query_invalid"),
    ("age eq 1 1", "odata_query_invalid"),
    ("village eq 'open", "odata_query_invalid"),
    ("year(a, b) eq 1", "odata_query_invalid"),
    ("(" * 60 + "a eq 1" + ")" * 60, "odata_query_invalid"),
])
def test_filters_outside_the_grammar_are_refused_with_a_code(text, code):
    with pytest.raises(CentralError) as refused:
        parse_filter(text)
    assert refused.value.code == code


def test_table_paths_name_a_set_or_one_records_repeat():
    assert parse_table("Submissions.hh.members") == ("Submissions.hh.members", None)
    assert parse_table("Submissions('uuid:a''b')/hh/members") == ("Submissions.hh.members",
                                                                   "uuid:a'b")
    with pytest.raises(CentralError):
        parse_table("Submissions.hh.members('x')/jobs")


# Over HTTP -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(tmp_path_factory):
    path = tmp_path_factory.mktemp("odataq") / "q.db"
    prepare_store(str(path))
    db = open_db(path)
    user_add(db, "ana", "analyst", PASSWORD)
    user_add(db, "sam", "supervisor", PASSWORD)
    forms_publish(db, (FIXTURES / "visit.md").read_bytes(), "visit.md")
    records = rss_records(7, rss_version(db), seed=5)
    ingest(db, records, door="sync", user="sam", device_id="tab-1")
    c = create_app({"DATABASE": str(path)}).test_client()
    c.records = records
    c.h = {"Authorization": f"Bearer {token_create(db, 'ana')}"}
    c.sam = {"Authorization": f"Bearer {token_create(db, 'sam')}"}
    c.path = path
    db.close()
    c.visits = [f"uuid:{uuid.uuid4()}" for _ in range(2)]
    for iid, photo in zip(c.visits, ("a.jpg", None)):
        xml = visit_xml(iid, "Kindia", [("Ama", 30, ["farmer"]), ("Kofi", 9, [])], photo=photo)
        assert c.post("/v1/projects/1/forms/visit/submissions", data=xml.encode(),
                      headers=c.sam).status_code == 200
    assert c.post(f"/v1/projects/1/forms/visit/submissions/{c.visits[0]}/attachments/a.jpg",
                  data=b"photo-bytes", headers=c.sam).json == {"success": True}
    return c


SVC = "/v1/projects/1/forms/rss.svc"


def test_prefer_maxpagesize_pages_with_next_links_to_the_end(api):
    r = api.get(f"{SVC}/Submissions?$select=__id", headers={**api.h,
                                                           "Prefer": "odata.maxpagesize=3"})
    assert r.headers["Preference-Applied"] == "odata.maxpagesize=3"
    ids = [row["__id"] for row in r.json["value"]]
    while "@odata.nextLink" in r.json:
        assert len(r.json["value"]) == 3
        r = api.get(r.json["@odata.nextLink"], headers=api.h)  # the size travels in the link
        ids += [row["__id"] for row in r.json["value"]]
    assert ids == [rec["instance_id"] for rec in api.records]


def test_orderby_sorts_and_pages_by_skip(api):
    by_case = sorted(api.records, key=lambda rec: rec["data"]["case_id"], reverse=True)
    r = api.get(f"{SVC}/Submissions?$orderby=case_id desc&$top=4&$select=case_id",
                headers=api.h)
    second = api.get(r.json["@odata.nextLink"], headers=api.h).json
    got = [row["case_id"] for row in r.json["value"] + second["value"]]
    assert got == [rec["data"]["case_id"] for rec in by_case]
    assert "$skip=4" in r.json["@odata.nextLink"] and "@odata.nextLink" not in second


def test_ne_keeps_nulls_and_eq_null_finds_them(api):
    none = api.get(f"{SVC}/Submissions?$filter=__system/reviewState eq null&$count=true",
                   headers=api.h).json
    not_approved = api.get(f"{SVC}/Submissions?$filter=__system/reviewState ne 'approved'"
                           "&$count=true", headers=api.h).json
    assert none["@odata.count"] == not_approved["@odata.count"] == len(api.records)


def test_date_times_compare_as_instants_whatever_their_offset(api):
    svc = "/v1/projects/1/forms/visit.svc/Submissions?$count=true&$filter="
    # visit_time is 2026-01-05T10:00+01:00, i.e. 09:00Z
    assert api.get(svc + "visit_time eq 2026-01-05T09:00:00Z", headers=api.h).json[
        "@odata.count"] == 2
    assert api.get(svc + "visit_time gt 2026-01-05T09:30:00Z", headers=api.h).json[
        "@odata.count"] == 0
    assert api.get(svc + "hour(visit_time) eq 9 and hh/hh_size eq 2", headers=api.h).json[
        "@odata.count"] == 2


def test_select_takes_whole_groups_single_answers_and_system_fields(api):
    rows = api.get("/v1/projects/1/forms/visit.svc/Submissions?$select=hh,meta/instanceID,"
                   "__system/submitterName", headers=api.h).json["value"]
    assert rows[0] == {"__id": api.visits[0], "__system": {"submitterName": "sam"},
                       "hh": {"hh_size": 2, "members@odata.navigationLink":
                              f"Submissions('{api.visits[0]}')/hh/members"},
                       "meta": {"instanceID": api.visits[0]}}


def test_repeat_rows_of_one_record_and_root_filters(api):
    one = api.get(f"/v1/projects/1/forms/visit.svc/Submissions('{api.visits[1]}')/hh/members",
                  headers=api.h).json
    assert [m["name"] for m in one["value"]] == ["Ama", "Kofi"]
    assert {m["__Submissions-id"] for m in one["value"]} == {api.visits[1]}
    adults = api.get("/v1/projects/1/forms/visit.svc/Submissions.hh.members?$filter=age ge 18"
                     f" and $root/Submissions/__id eq '{api.visits[0]}'", headers=api.h).json
    assert [m["name"] for m in adults["value"]] == ["Ama"]


@pytest.mark.parametrize("url,status,code", [
    (f"{SVC}/Submissions?$format=xml", 406, "odata_format_unacceptable"),
    (f"{SVC}/Submissions?$select=__id&$expand=*", 501, "odata_unsupported"),
    (f"{SVC}/Submissions?$search=x", 501, "odata_unsupported"),
    (f"{SVC}/Submissions?$expand=hh", 501, "odata_unsupported"),
    (f"{SVC}/Submissions?$select=nope", 400, "odata_property_unknown"),
    (f"{SVC}/Submissions?$filter=age", 400, "odata_query_invalid"),
    (f"{SVC}/Submissions?$count=maybe", 400, "odata_query_invalid"),
    (f"{SVC}/Submissions?$skiptoken=garbage", 400, "odata_query_invalid"),
    (f"{SVC}/Submissions.nothing", 404, "odata_table_unknown"),
    (f"{SVC}/Submissions('uuid:none')", 404, "submission_unknown"),
    ("/v1/projects/1/forms/nope.svc/Submissions", 404, "form_unknown"),
    ("/v1/projects/7/forms/rss.svc/Submissions", 404, "project_unknown"),
])
def test_refusals_carry_centrals_number_and_fieldsyncs_code(api, url, status, code):
    r = api.get(url, headers=api.h)
    assert r.status_code == status
    assert r.json["error"]["code"] == code and int(r.json["code"]) == status
    assert r.json["message"] == r.json["error"]["message"]
    assert r.headers["OData-Version"] == "4.0"


def test_a_skiptoken_from_another_table_is_refused(api):
    first = api.get(f"{SVC}/Submissions?$top=1", headers=api.h).json["@odata.nextLink"]
    token = first.split("$skiptoken=")[1]
    r = api.get(f"/v1/projects/1/forms/visit.svc/Submissions.hh.members?$skiptoken={token}",
                headers=api.h)
    assert r.status_code == 400


def test_expired_sessions_and_disabled_accounts_are_refused(api):
    token = api.post("/v1/sessions", json={"email": "ana", "password": PASSWORD}).json["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/v1/users/current", headers=bearer).status_code == 200
    db = open_db(api.path)
    try:
        db.execute("UPDATE central_sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
    finally:
        db.close()
    assert api.get("/v1/users/current", headers=bearer).status_code == 401
    db = open_db(api.path)
    try:
        user_add(db, "gone", "analyst", PASSWORD)
        db.execute("UPDATE users SET disabled_at = '2026-01-01T00:00:00Z' WHERE name = 'gone'")
    finally:
        db.close()
    basic = base64.b64encode(f"gone:{PASSWORD}".encode()).decode()
    assert api.get("/v1/projects", headers={"Authorization": f"Basic {basic}"}
                   ).status_code == 401
    assert api.post("/v1/sessions", json={"email": "gone", "password": PASSWORD}
                    ).status_code == 401


def test_one_user_cannot_end_anothers_session(api):
    token = api.post("/v1/sessions", json={"email": "ana", "password": PASSWORD}).json["token"]
    r = api.delete(f"/v1/sessions/{token}", headers=api.sam)
    assert r.status_code == 404 and r.json["error"]["code"] == "session_unknown"
    assert api.get("/v1/users/current",
                   headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_csv_zip_holds_centrals_tables_keys_and_media(api):
    r = api.get("/v1/projects/1/forms/visit/submissions.csv.zip", headers=api.h)
    zf = zipfile.ZipFile(io.BytesIO(r.data))
    assert sorted(zf.namelist()) == ["media/a.jpg", "visit-jobs.csv", "visit-members.csv",
                                     "visit.csv"]
    root = list(csv.DictReader(io.StringIO(zf.read("visit.csv").decode())))
    assert [row["KEY"] for row in root] == api.visits
    assert root[0]["hh-hh-size"] == "2" and root[0]["gps-Latitude"] == "9.5"
    assert (root[0]["AttachmentsPresent"], root[1]["AttachmentsPresent"]) == ("1", "0")
    members = list(csv.DictReader(io.StringIO(zf.read("visit-members.csv").decode())))
    assert [(m["name"], m["PARENT_KEY"], m["KEY"]) for m in members[:2]] == [
        ("Ama", api.visits[0], f"{api.visits[0]}/hh/members[1]"),
        ("Kofi", api.visits[0], f"{api.visits[0]}/hh/members[2]")]
    jobs = list(csv.DictReader(io.StringIO(zf.read("visit-jobs.csv").decode())))
    assert jobs[0]["KEY"] == f"{api.visits[0]}/hh/members[1]/jobs[1]"
    assert jobs[0]["PARENT_KEY"] == f"{api.visits[0]}/hh/members[1]"
    assert zf.read("media/a.jpg") == b"photo-bytes"
    bare = zipfile.ZipFile(io.BytesIO(api.get("/v1/projects/1/forms/visit/submissions.csv.zip"
                                              "?attachments=false", headers=api.h).data))
    assert "media/a.jpg" not in bare.namelist()
    plain = api.get("/v1/projects/1/forms/visit/submissions.csv", headers=api.h).data.decode()
    assert plain == zf.read("visit.csv").decode()


def test_refused_writes_store_nothing_and_change_nothing(api):
    def held():
        db = open_db(api.path)
        try:
            return (db.execute("SELECT count(*) FROM submissions").fetchone()[0],
                    db.execute("SELECT count(*) FROM submission_attachments WHERE sha256 "
                               "IS NOT NULL").fetchone()[0],
                    db.execute("SELECT count(*) FROM reviews").fetchone()[0])
        finally:
            db.close()

    before = held()
    url = "/v1/projects/1/forms/visit/submissions"
    rss_xml = visit_xml(f"uuid:{uuid.uuid4()}", "X", []).replace('id="visit"', 'id="rss"')
    refusals = [
        (api.post(url, data=b"<data id='visit'><village>", headers=api.sam), 400,
         "submission_xml_invalid"),
        (api.post(url, data=b"", headers=api.sam), 400, "submission_xml_invalid"),
        (api.post(url, data=rss_xml.encode(), headers=api.sam), 400,
         "submission_form_mismatch"),
        (api.post(f"{url}/{api.visits[1]}/attachments/other.jpg", data=b"x", headers=api.sam),
         404, "attachment_not_expected"),
        (api.patch(f"{url}/{api.visits[1]}", json={"reviewState": "edited"}, headers=api.sam),
         400, "review_state_invalid"),
        (api.patch(f"{url}/uuid:none", json={"reviewState": "approved"}, headers=api.sam),
         404, "submission_unknown"),
        (api.patch(f"{url}/{api.visits[1]}", json={"reviewState": "approved"},
                   headers=api.h), 403, "forbidden"),
    ]
    for response, status, code in refusals:
        assert (response.status_code, response.json["error"]["code"]) == (status, code)
    assert held() == before


def test_forms_versions_and_fields_come_in_centrals_shapes(api):
    form = api.get("/v1/projects/1/forms/visit", headers={**api.h,
                                                          "X-Extended-Metadata": "true"}).json
    assert (form["xmlFormId"], form["version"], form["projectId"], form["state"]) == (
        "visit", "1", 1, "open")
    assert form["submissions"] == 2 and form["reviewStates"] == {
        "received": 2, "hasIssues": 0, "edited": 0}
    assert {"enketoId", "keyId", "publishedAt", "updatedAt", "name"} <= set(form)
    assert [v["version"] for v in api.get("/v1/projects/1/forms/visit/versions",
                                          headers=api.h).json] == ["1"]
    raw = api.get("/v1/projects/1/forms/visit/fields", headers=api.h).json
    sane = api.get("/v1/projects/1/forms/visit/fields?odata=true", headers=api.h).json
    by_path = {f["path"]: f for f in raw}
    assert by_path["/hh"]["type"] == "structure" and by_path["/hh/members"]["type"] == "repeat"
    assert by_path["/hh/hh-size"]["type"] == "int" and by_path["/photo"]["binary"] is True
    assert by_path["/assets"]["selectMultiple"] is True
    assert "/hh/hh_size" in {f["path"] for f in sane} and "/hh/members/jobs/plot_area" in {
        f["path"] for f in sane}
    xml = api.get("/v1/projects/1/forms/visit.xml", headers=api.h)
    assert xml.mimetype == "application/xml" and b'id="visit"' in xml.data


def test_a_record_with_two_flags_lists_both_as_words_in_odata_and_the_csv(tmp_path):
    prepare_store(str(tmp_path / "f.db"))
    db = open_db(tmp_path / "f.db")
    user_add(db, "ana", "analyst", PASSWORD)
    [first] = rss_records(1, rss_version(db), seed=9)
    again = {**first, "instance_id": f"uuid:{uuid.uuid4()}",
             "data": {**first["data"], "consent": "perhaps"}}  # same person and round
    ingest(db, [first], door="sync", user="ana", device_id="tab-1")
    ingest(db, [again], door="sync", user="ana", device_id="tab-2")
    headers = {"Authorization": f"Bearer {token_create(db, 'ana')}"}
    db.close()
    client = create_app({"DATABASE": str(tmp_path / "f.db")}).test_client()
    r = client.get(f"{SVC}/Submissions?$filter=__id eq '{again['instance_id']}'",
                   headers=headers)
    assert sorted(r.json["value"][0]["__system"]["flags"].split()) == [
        "invalid", "probable_duplicate"]
    export = client.get("/api/v1/forms/rss/submissions?format=csv", headers=headers)
    rows = {row["instance_id"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert sorted(rows[again["instance_id"]]["flags"].split()) == [
        "invalid", "probable_duplicate"]


def test_behind_a_tls_proxy_the_odata_links_say_https(api):
    r = api.get(f"{SVC}/Submissions?$top=1",
                headers={**api.h, "X-Forwarded-Proto": "https"})
    assert r.json["@odata.context"].startswith("https://localhost/v1/projects/1/forms/rss.svc")
    assert r.json["@odata.nextLink"].startswith("https://localhost/v1/projects/1/forms/rss.svc"
                                                "/Submissions?")
    plain = api.get(f"{SVC}/Submissions?$top=1", headers=api.h)
    assert plain.json["@odata.context"].startswith("http://localhost/v1/projects/1/")
