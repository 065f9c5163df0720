"""Returnees followed across rounds, end to end over real HTTP on loopback: the
list as ODK Collect fetches it (manifest, CSV, hash), two device clients updating
the same returnee offline, an imported case list split between tablets, and the
JSON API over lists, conflicts, due lists and trajectories."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import requests
from lxml import etree

from forms.instance import record_to_instance
from sync import device
from sync.device_store import DeviceStore
from sync.fill import fill
from tests.helpers.live import LiveServer
from tests.helpers.collect import PASSWORD, Collect

MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("entities") / "server.db", threads=8).start()
    server.admin = server.session(server.token_for("ama", "admin"))
    server.version = server.admin.get(f"{server.url}/api/v1/forms/rss").json()[
        "current_version"]
    yield server
    server.stop()


def manifest(collect: Collect, version: str) -> dict:
    r = collect.http.get(f"{collect.url}/forms/rss/versions/{version}/manifest", timeout=10)
    assert r.status_code == 200
    files = {}
    for m in etree.fromstring(r.content).iter(f"{MANIFEST_NS}mediaFile"):
        item = {etree.QName(c).localname: c.text for c in m}
        files[item["filename"]] = {**item, "type": m.get("type")}
    return files


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def baseline_xml(srv, model, case_id: str, entity_id: str) -> bytes:
    record = {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
              "form_version": srv.version,
              "data": {"case_id": case_id, "survey_round": "baseline",
                       "interview_date": "2026-03-02", "return_date": "2025-09-01",
                       "country_of_return": "GIN", "sex": "female", "consent": "no",
                       "new_returnee_id": entity_id},
              "entity": {"dataset": "returnees", "id": entity_id, "create": "1",
                         "update": "0", "baseVersion": "", "trunkVersion": "",
                         "branchId": "", "label": case_id}}
    return record_to_instance(record, model)


def test_collect_gets_the_list_with_a_hash_that_changes_when_a_baseline_adds_a_returnee(srv):
    srv.token_for("col1", "enumerator", PASSWORD)
    collect = Collect(srv.url, "col1")
    [entry] = collect.form_list(formID="rss")
    assert entry["manifestUrl"].endswith(f"/forms/rss/versions/{srv.version}/manifest")
    before = manifest(collect, srv.version)["returnees.csv"]
    assert before["type"] == "entityList" and before["hash"].startswith("md5:")
    empty = collect.http.get(before["downloadUrl"], timeout=10)
    assert empty.status_code == 200 and csv_rows(empty.content) == []
    assert empty.content.startswith(b"name,label,__version,")

    entity_id, case_id = str(uuid.uuid4()), f"GIN-{uuid.uuid4().hex[:6]}"
    model = collect.model("rss")
    sent = collect.submit(baseline_xml(srv, model, case_id, entity_id))
    assert sent.status_code == 201, sent.text
    after = manifest(collect, srv.version)["returnees.csv"]
    assert after["hash"] != before["hash"]
    listed = collect.http.get(after["downloadUrl"], timeout=10)
    [row] = [r for r in csv_rows(listed.content) if r["name"] == entity_id]
    assert (row["label"], row["__version"], row["case_id"], row["sex"]) == (
        case_id, "1", case_id, "female")
    assert listed.headers["ETag"] == f'"{after["hash"][4:]}"'
    again = collect.http.get(after["downloadUrl"], timeout=10,
                             headers={"If-None-Match": listed.headers["ETag"]})
    assert again.status_code == 304
    assert manifest(collect, srv.version)["returnees.csv"]["hash"] == after["hash"]


def tablet(srv, tmp_path, name: str, token: str) -> str:
    db = str(tmp_path / f"{name}.db")
    device.init(db, srv.url, token, tmp_path / f"{name}-media")
    summary = device.pull(db)
    assert "returnees" in summary["lists"], summary
    return db


def follow_up(db: str, pick_label: str, age: str) -> dict:
    """Fill a 6m round on a device: pick the returnee, keep what the pick filled in."""
    with DeviceStore.open(db) as store:
        text = store.list_csv("returnees")
    labels = [r["label"] for r in csv_rows(text.encode())]
    answers = iter([str(labels.index(pick_label) + 1), "2", "2026-03-05", "", age, "2"])

    def ask(prompt, default=None):
        return "" if default else next(answers)

    result = fill(db, "rss", ask=ask, say=lambda s: None)
    with DeviceStore.open(db) as store:
        return store.record(result["instance_id"])["record"]


def test_two_tablets_updating_a_returnee_offline_give_one_update_one_conflict_nothing_lost(
        srv, tmp_path):
    token = srv.token_for(f"enum-{uuid.uuid4().hex[:4]}", "enumerator")
    case_id = f"GIN-{uuid.uuid4().hex[:6]}"
    srv.admin.post(f"{srv.url}/api/v1/lists/returnees/import?dry_run=false",
                   data=f"case_id,label,return_date,country_of_return,sex\n"
                        f"{case_id},{case_id},2025-09-01,GIN,male\n".encode(),
                   headers={"Content-Type": "text/csv"}).raise_for_status()
    first, second = (tablet(srv, tmp_path, n, token) for n in ("a", "b"))
    rec_a, rec_b = follow_up(first, case_id, "31"), follow_up(second, case_id, "32")
    for rec in (rec_a, rec_b):  # the pick filled in the case; the block names version 1
        assert rec["data"]["case_id"] == case_id and rec["data"]["sex"] == "male"
        assert (rec["entity"]["update"], rec["entity"]["baseVersion"]) == ("true", "1")
    assert device.push(first)["by_status"] and device.push(second)["queued"] == 0
    entity_id = rec_a["entity"]["id"]
    entity = srv.admin.get(f"{srv.url}/api/v1/lists/returnees/entities/{entity_id}").json()
    assert entity["version"] == 2
    assert [v["instance_id"] for v in entity["versions"]][1] == rec_a["instance_id"]
    [conflict] = entity["conflicts"]
    assert conflict["instance_id"] == rec_b["instance_id"]
    assert conflict["reason"] == "stale_base" and conflict["resolution"] is None
    for rec in (rec_a, rec_b):  # both records are stored whole
        got = srv.admin.get(f"{srv.url}/api/v1/submissions/{rec['instance_id']}")
        assert got.status_code == 200 and got.json()["data"]["age"] == rec["data"]["age"]
    done = srv.admin.post(f"{srv.url}/api/v1/entity-conflicts/{conflict['id']}/resolve",
                          json={"action": "dismiss", "comment": "same visit"})
    assert done.status_code == 200 and done.json()["resolution"] == "dismissed"
    again = srv.admin.post(f"{srv.url}/api/v1/entity-conflicts/{conflict['id']}/resolve",
                           json={"action": "apply"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "entity_conflict_resolved"


def test_an_imported_list_of_10000_cases_reaches_each_tablet_as_its_own_cases_only(srv):
    people = [f"imp{i}" for i in range(4)]
    for name in people:
        srv.token_for(name, "enumerator", PASSWORD)
    lines = ["case_id,label,return_date,assignee"] + [
        f"IMP-{n:05d},IMP-{n:05d},2025-0{1 + n % 9}-15,{people[n % 4]}" for n in range(10_000)]
    body = ("\n".join(lines) + "\n").encode()
    url = f"{srv.url}/api/v1/lists/cases10k/import"
    preview = srv.admin.post(f"{url}?key=case_id", files={"file": ("cases.csv", body)})
    assert preview.status_code == 200 and preview.json()["created"] == 10_000
    assert srv.admin.get(f"{srv.url}/api/v1/lists/cases10k").status_code == 404
    done = srv.admin.post(f"{url}?key=case_id&dry_run=false",
                          files={"file": ("cases.csv", body)})
    assert done.status_code == 201 and done.json()["created"] == 10_000
    srv.admin.post(f"{srv.url}/api/v1/forms", files={"file": ("reader.md", READER_MD)}
                   ).raise_for_status()
    collect = Collect(srv.url, "imp2")
    r = collect.http.get(f"{srv.url}/forms/reader/versions/1/manifest", timeout=10)
    [media] = etree.fromstring(r.content).iter(f"{MANIFEST_NS}mediaFile")
    assert media.get("type") == "entityList"
    url = media.findtext(f"{MANIFEST_NS}downloadUrl")
    rows = csv_rows(collect.http.get(url, timeout=30).content)
    assert len(rows) == 2_500
    assert {r["case_id"] for r in rows} == {f"IMP-{n:05d}" for n in range(2, 10_000, 4)}


READER_MD = b"""\
| survey |
| | type | name | label |
| | select_one_from_file cases10k.csv | case | Case |
| settings |
| | form_id | version |
| | reader | 1 |
"""


def test_the_json_api_lists_due_cases_with_an_enumerator_seeing_their_own(srv):
    enum = srv.session(srv.token_for(f"due-{uuid.uuid4().hex[:4]}", "enumerator"))
    lists_ = srv.admin.get(f"{srv.url}/api/v1/lists").json()["lists"]
    assert {"returnees", "cases10k"} <= {item["name"] for item in lists_}
    mine = enum.get(f"{srv.url}/api/v1/forms/rss/due?on=2026-03-10&assignee=someone-else")
    assert mine.status_code == 200 and mine.json()["items"] == []
    everyone = srv.admin.get(f"{srv.url}/api/v1/forms/rss/due?on=2026-03-10").json()
    assert sum(everyone["counts"].values()) >= 2
    assert enum.get(f"{srv.url}/api/v1/lists").status_code == 403
    bad = srv.admin.get(f"{srv.url}/api/v1/forms/rss/due?status=late")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    trajectories = srv.admin.get(f"{srv.url}/api/v1/scores/trajectories?form_id=rss")
    assert trajectories.status_code == 200 and trajectories.json()["people"]
    changes = srv.admin.get(f"{srv.url}/api/v1/scores/changes",
                            params={"form_id": "rss", "from": "baseline", "to": "6m"})
    assert changes.status_code == 200 and "left_out" in changes.json()
    wrong = srv.admin.get(f"{srv.url}/api/v1/scores/changes",
                          params={"form_id": "rss", "from": "baseline", "to": "9y"})
    assert wrong.status_code == 400 and "9y" in wrong.json()["error"]["message"]
    assert requests.get(f"{srv.url}/api/v1/lists", timeout=10).status_code == 401
