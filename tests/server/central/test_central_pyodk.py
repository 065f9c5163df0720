"""HQ analysts' notebooks, unchanged: the real pyodk package against a fieldsync
server on loopback (Central's REST API and OData under /v1).

One live server for the module; pyodk reads a ``.pyodk_config.toml`` as an
analyst would write it (docs/central-api.md) and logs in with a session.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from pyodk.client import Client
from pyodk.errors import PyODKError

from forms.instance import record_to_instance
from server.accounts.users import user_add
from server.ingest.pipeline import ingest
from server.registry.models import model_for
from server.registry.publish import forms_publish
from server.review.actions import review_set, review_show
from server.store import audit
from tests.helpers.central import visit_xml
from tests.helpers.forwarding import rss_records, rss_version
from tests.helpers.live import LiveServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "central"
PASSWORD = "secret-pw-1"
SEEDED = 12


def write_config(tmp: Path, base_url: str, user: str) -> Path:
    path = tmp / f"{user}.pyodk_config.toml"
    path.write_text(f'[central]\nbase_url = "{base_url}"\nusername = "{user}"\n'
                    f'password = "{PASSWORD}"\ndefault_project_id = 1\n')
    return path


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("central")
    live = LiveServer(tmp / "central.db").start()
    db = live.db()
    for name, role in (("ana", "analyst"), ("sam", "supervisor"), ("eno", "enumerator")):
        user_add(db, name, role, PASSWORD)
    forms_publish(db, (FIXTURES / "visit.md").read_bytes(), "visit.md")
    live.rss_version = rss_version(db)
    live.seeded = rss_records(SEEDED, live.rss_version, seed=3)
    ingest(db, live.seeded, door="sync", user="eno", device_id="tab-1")
    review_set(db, live.seeded[2]["instance_id"], "approved", actor="sam")
    review_set(db, live.seeded[5]["instance_id"], "rejected", actor="sam")
    db.close()
    live.clients = {name: Client(config_path=write_config(tmp, live.url, name),
                                 cache_path=tmp / f"{name}.cache.toml")
                    for name in ("ana", "sam", "eno")}
    live.device = live.session(live.token_for("tab", "enumerator"))
    yield live
    for client in live.clients.values():
        client.close()
    live.stop()


def test_pyodk_lists_the_forms_with_every_key_of_centrals_form(central):
    ana = central.clients["ana"]
    forms = {f.xmlFormId: f for f in ana.forms.list()}
    assert set(forms) == {"rss", "visit"}
    assert forms["rss"].version == central.rss_version and forms["visit"].version == "1"
    assert forms["visit"].enketoId is None and forms["visit"].keyId is None
    assert [p.id for p in ana.projects.list()] == [1]
    assert "<h:html" in ana.forms.get_xml("visit")


SEEDED_ONLY = "__system/deviceId eq 'tab-1'"  # the records the fixture stored


def test_get_table_pages_with_top_skip_and_count(central):
    ana = central.clients["ana"]
    first = ana.submissions.get_table(form_id="rss", top=5, count=True, filter=SEEDED_ONLY)
    assert len(first["value"]) == 5 and first["@odata.count"] == SEEDED
    assert "$skiptoken=" in first["@odata.nextLink"]
    last = ana.submissions.get_table(form_id="rss", skip=10, top=5, filter=SEEDED_ONLY)
    assert len(last["value"]) == SEEDED - 10 and "@odata.nextLink" not in last
    everything = ana.submissions.get_table(form_id="rss", filter=SEEDED_ONLY)
    assert [r["__id"] for r in everything["value"]] == [r["instance_id"]
                                                       for r in central.seeded]


def test_get_table_filters_on_system_fields_and_on_answers(central):
    ana = central.clients["ana"]
    approved = ana.submissions.get_table(form_id="rss",
                                         filter="__system/reviewState eq 'approved'")
    assert [r["__id"] for r in approved["value"]] == [central.seeded[2]["instance_id"]]
    not_rejected = ana.submissions.get_table(
        form_id="rss", filter=f"__system/reviewState ne 'rejected' and "
        f"__system/submissionDate ge 2020-01-01 and {SEEDED_ONLY}", count=True)
    assert not_rejected["@odata.count"] == SEEDED - 1
    satisfied = [r["instance_id"] for r in central.seeded
                 if r["data"]["econ"]["econ_satisfaction"] == "satisfied"]
    got = ana.submissions.get_table(form_id="rss", filter="econ/econ_satisfaction eq "
                                    f"'satisfied' and {SEEDED_ONLY}")
    assert [r["__id"] for r in got["value"]] == satisfied and satisfied
    picked = ana.submissions.get_table(form_id="rss", filter="case_id eq 'GIN-2026-00007' "
                                       f"and {SEEDED_ONLY}",
                                       select="__id,case_id,__system/reviewState")
    assert picked["value"] == [{"__id": central.seeded[7]["instance_id"],
                                "__system": {"reviewState": None},
                                "case_id": "GIN-2026-00007"}]


def test_paging_by_next_links_while_a_device_pushes_serves_each_record_once(central):
    ana = central.clients["ana"]
    page = ana.submissions.get_table(form_id="rss", top=4)
    served = [r["__id"] for r in page["value"]]
    pushed: list[str] = []
    while "@odata.nextLink" in page:
        if len(pushed) < 9:  # a device syncs between the analyst's pages
            batch = rss_records(3, central.rss_version, seed=100 + len(pushed))
            r = central.device.post(f"{central.url}/api/v1/sync/push", json={
                "device_id": "tab-2", "batch_id": str(uuid.uuid4()), "submissions": batch})
            assert r.status_code == 200
            pushed += [rec["instance_id"] for rec in batch]
        page = ana.session.get(page["@odata.nextLink"]).json()
        served += [r["__id"] for r in page["value"]]
        assert len(served) < 500
    assert len(served) == len(set(served))
    everything = [r["__id"] for r in ana.submissions.get_table(form_id="rss")["value"]]
    assert served == everything
    assert len(pushed) == 9 and set(pushed) <= set(served)


def test_repeats_come_as_their_own_tables_and_expand_nests_them(central):
    sam, ana = central.clients["sam"], central.clients["ana"]
    iid = f"uuid:{uuid.uuid4()}"
    created = sam.submissions.create(visit_xml(iid, "Kindia", [("Ama", 34, ["farmer", "trader"]),
                                                               ("Kofi", 9, [])]),
                                     form_id="visit")
    assert created.instanceId == iid and created.submitterId > 0
    members = ana.submissions.get_table(form_id="visit", table_name="Submissions.hh.members",
                                        filter=f"$root/Submissions/__id eq '{iid}'")["value"]
    assert [(m["name"], m["age"], m["__Submissions-id"]) for m in members] == [
        ("Ama", 34, iid), ("Kofi", 9, iid)]
    jobs = ana.submissions.get_table(form_id="visit", table_name="Submissions.hh.members.jobs",
                                     filter=f"$root/Submissions/__id eq '{iid}'")["value"]
    assert [(j["job"], j["__Submissions-hh-members-id"]) for j in jobs] == [
        ("farmer", members[0]["__id"]), ("trader", members[0]["__id"])]
    row = ana.submissions.get_table(form_id="visit", expand="*",
                                    filter=f"__id eq '{iid}'")["value"][0]
    assert [m["name"] for m in row["hh"]["members"]] == ["Ama", "Kofi"]
    assert [j["job"] for j in row["hh"]["members"][0]["jobs"]] == ["farmer", "trader"]
    assert row["hh"]["hh_size"] == 2 and row["gps"]["coordinates"] == [-13.7, 9.5, 12]


def test_attachments_are_uploaded_listed_and_downloaded(central, tmp_path):
    sam, ana = central.clients["sam"], central.clients["ana"]
    photo = tmp_path / "door.jpg"
    photo.write_bytes(b"\xff\xd8\xff fake jpeg bytes")
    iid = f"uuid:{uuid.uuid4()}"
    created = sam.submissions.create(visit_xml(iid, "Boke", [], photo="door.jpg"),
                                     form_id="visit", attachments=[photo])
    assert [(a.name, a.exists) for a in created.attachments] == [("door.jpg", True)]
    r = ana.get(f"projects/1/forms/visit/submissions/{iid}/attachments/door.jpg")
    assert r.status_code == 200 and r.content == photo.read_bytes()
    row = ana.submissions.get_table(form_id="visit", filter=f"__id eq '{iid}'")["value"][0]
    assert row["__system"]["attachmentsPresent"] == row["__system"]["attachmentsExpected"] == 1


def test_review_state_changes_reach_odata_and_the_audit_log(central):
    sam, ana = central.clients["sam"], central.clients["ana"]
    iid = central.seeded[9]["instance_id"]
    sam.submissions.review(iid, "hasIssues", form_id="rss")
    assert ana.submissions.get(iid, form_id="rss").reviewState == "hasIssues"
    row = ana.submissions.get_table(form_id="rss", filter="__system/reviewState eq "
                                    "'hasIssues'")["value"]
    assert [r["__id"] for r in row] == [iid] and row[0]["__system"]["updatedAt"]
    db = central.db()
    try:
        entries = audit.entries(db, "submission.review")
    finally:
        db.close()
    assert any(e["target"] == iid and e["actor"] == "sam" and
               e["details"]["state"] == "has_issues" for e in entries)
    with pytest.raises(PyODKError):  # an analyst reads, a supervisor reviews
        ana.submissions.review(iid, "approved", form_id="rss")


def test_a_review_with_a_comment_from_pyodk_keeps_the_comment_in_the_review_history(central):
    sam, ana = central.clients["sam"], central.clients["ana"]
    iid = central.seeded[11]["instance_id"]
    sam.submissions.review(iid, "hasIssues", form_id="rss",
                           comment="Sex is missing; call the respondent back.")
    sam.submissions.add_comment(iid, "Called back: answered female.", form_id="rss")
    comments = ana.submissions.list_comments(iid, form_id="rss")
    assert [c.body for c in comments] == ["Sex is missing; call the respondent back.",
                                          "Called back: answered female."]
    db = central.db()
    try:
        sam_id = db.execute("SELECT id FROM users WHERE name = 'sam'").fetchone()[0]
        history = review_show(db, iid)
    finally:
        db.close()
    assert {c.actorId for c in comments} == {sam_id}
    assert history["review_state"] == "has_issues"  # a comment leaves the state alone
    assert [(r["action"], r["comment"]) for r in history["reviews"]][-1] == (
        "comment", "Called back: answered female.")
    with pytest.raises(PyODKError):  # an analyst reads comments, a supervisor writes them
        ana.submissions.add_comment(iid, "ok", form_id="rss")


def test_an_edit_from_pyodk_becomes_the_records_next_version_and_keeps_its_photo(
        central, tmp_path):
    sam, ana = central.clients["sam"], central.clients["ana"]
    first = f"uuid:{uuid.uuid4()}"
    photo = tmp_path / "roof.jpg"
    photo.write_bytes(b"roof photo bytes")
    sam.submissions.create(visit_xml(first, "Kankan", [], photo="roof.jpg"),
                           form_id="visit", attachments=[photo])
    second = f"uuid:{uuid.uuid4()}"
    edited = visit_xml(second, "Kindia", [], photo="roof.jpg").replace(
        "</instanceID>", f"</instanceID><deprecatedID>{first}</deprecatedID>")
    sam.submissions.edit(first, edited, form_id="visit", comment="village corrected")
    [row] = ana.submissions.get_table(form_id="visit", filter=f"__id eq '{first}'")["value"]
    assert row["village"] == "Kindia" and row["meta"]["instanceID"] == second
    assert row["__system"]["attachmentsPresent"] == 1  # the photo came with the edit
    r = ana.get(f"projects/1/forms/visit/submissions/{first}/attachments/roof.jpg")
    assert r.content == b"roof photo bytes"
    assert [c.body for c in ana.submissions.list_comments(first, form_id="visit")] == [
        "village corrected"]
    stale = visit_xml(f"uuid:{uuid.uuid4()}", "Boke", []).replace(
        "</instanceID>", f"</instanceID><deprecatedID>{first}</deprecatedID>")
    with pytest.raises(PyODKError, match="submission_edit_stale|409"):
        sam.submissions.edit(first, stale, form_id="visit")
    with pytest.raises(PyODKError):  # an analyst reads, a supervisor edits
        ana.submissions.edit(first, stale, form_id="visit")


def test_a_record_created_from_xml_goes_through_ingest_flagged_not_dropped(central):
    sam, ana = central.clients["sam"], central.clients["ana"]
    db = central.db()
    try:
        model = model_for(db, "rss", central.rss_version)
    finally:
        db.close()
    [good, bad] = rss_records(2, central.rss_version, seed=77)
    bad["data"]["age"] = "240"  # breaks the form's constraint (0..120)
    for rec in (good, bad):
        xml = record_to_instance(rec, model).decode()
        sam.submissions.create(xml, form_id="rss")
    rows = {r["__id"]: r for r in ana.submissions.get_table(
        form_id="rss", filter=f"__id eq '{good['instance_id']}' or "
        f"__id eq '{bad['instance_id']}'")["value"]}
    assert rows[good["instance_id"]]["__system"]["scoringVersion"] == "rss-v1"
    assert rows[good["instance_id"]]["__system"]["scores"]["composite"] is not None
    assert rows[bad["instance_id"]]["__system"]["validation"] == "invalid"
    assert rows[bad["instance_id"]]["age"] == 240  # kept as received, flagged


def test_an_enumerator_posts_xml_resends_safely_and_a_clash_is_kept_and_refused(central):
    url = f"{central.url}/v1/projects/1/forms/visit/submissions"
    post = lambda xml: requests.post(url, data=xml.encode(), auth=("eno", PASSWORD),  # noqa
                                     headers={"Content-Type": "application/xml"})
    iid = f"uuid:{uuid.uuid4()}"
    first = post(visit_xml(iid, "Labe", []))
    again = post(visit_xml(iid, "Labe", []))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["instanceId"] == iid
    clash = post(visit_xml(iid, "Mamou", []))
    assert clash.status_code == 409 and clash.json()["code"] == 409.3
    assert clash.json()["error"]["code"] == "submission_conflict"
    db = central.db()
    try:
        rows = db.execute("SELECT state, flags FROM submissions WHERE instance_id = ? "
                          "ORDER BY id", [iid]).fetchall()
    finally:
        db.close()
    assert [r[0] for r in rows] == ["current", "conflict"]
    assert all("conflict" in r[1] for r in rows)
    broken = requests.post(url, data=b"<data id='visit'><village>", auth=("eno", PASSWORD))
    assert broken.status_code == 400 and broken.json()["error"]["code"] == \
        "submission_xml_invalid"


def test_a_session_ends_on_logout_and_basic_auth_works_without_one(central):
    url = central.url
    login = requests.post(f"{url}/v1/sessions", json={"email": "ana", "password": PASSWORD})
    assert login.status_code == 200 and set(login.json()) == {"token", "expiresAt",
                                                              "createdAt"}
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    assert requests.get(f"{url}/v1/users/current", headers=bearer).json()["displayName"] == "ana"
    assert requests.delete(f"{url}/v1/sessions/current", headers=bearer).json() == {
        "success": True}
    gone = requests.get(f"{url}/v1/users/current", headers=bearer)
    assert gone.status_code == 401 and gone.json()["code"] == 401.2
    wrong = requests.post(f"{url}/v1/sessions", json={"email": "ana", "password": "nope"})
    assert wrong.status_code == 401
    basic = requests.get(f"{url}/v1/projects/1/forms/rss.svc/Submissions?$top=1",
                         auth=("ana", PASSWORD))
    assert basic.status_code == 200 and basic.headers["OData-Version"] == "4.0"
    challenge = requests.get(f"{url}/v1/projects/1/forms/rss.svc/Submissions")
    assert challenge.status_code == 401 and "Basic" in challenge.headers["WWW-Authenticate"]
