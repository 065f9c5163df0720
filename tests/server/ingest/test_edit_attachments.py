"""An edit keeps the files of the version it replaces, over OpenRosa and the JSON
sync API: a file named but not sent again stays the stored file (no "Still
expected", nothing flagged); a file sent again replaces it for the new version
only; a file that no version holds is flagged and waits in the review queue
until it arrives."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import pytest

from tests.helpers.accounts import Site, basic_header, cheap_password_hashes
from tests.helpers.records import batch

PASSWORD = "edit-files-1234"
HOUSE = Path(__file__).resolve().parents[2] / "fixtures" / "house.md"
PHOTO_A, PHOTO_B, PHOTO_C = b"\xff\xd8 photo A", b"\xff\xd8 photo B", b"\xff\xd8 photo C"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        site = Site(tmp_path_factory.mktemp("edit-files"))
        site.enum = site.add("enum", "enumerator", PASSWORD)
        site.add("boss", "supervisor", PASSWORD)
        r = site.call("POST", "/api/v1/forms", token=site.admin_token,
                      data={"file": (HOUSE.open("rb"), "house.md")})
        assert r.status_code == 201, r.get_data(as_text=True)
        yield site


def xml(iid: str, *, deprecated: str | None = None, house: str = "house.png",
        other: str = "") -> bytes:
    meta = f"<instanceID>{iid}</instanceID>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    return (f'<data id="house" version="2026120101"><case_id>H-1</case_id>'
            f"<house_photo>{house}</house_photo><other_photo>{other}</other_photo>"
            f"<meta>{meta}</meta></data>").encode()


def post(site, body: bytes, files: dict[str, bytes] | None = None, user: str = "enum"):
    data = {"xml_submission_file": (io.BytesIO(body), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/png")
    return site.call("POST", "/submission", auth=basic_header(user, PASSWORD), data=data)


def held(site, iid: str) -> dict:
    r = site.call("GET", f"/api/v1/submissions/{iid}", token=site.admin_token)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def files_of(record: dict) -> dict[str, tuple[str, bool]]:
    return {a["name"]: (a["sha256"], a["received"]) for a in record["attachments"]}


def flagged_queue(site) -> set[str]:
    r = site.call("GET", "/api/v1/review/queue?kind=flagged&form_id=house",
                  token=site.admin_token)
    return {item["instance_id"] for item in r.get_json()["items"]}


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


# OpenRosa ------------------------------------------------------------------------

def test_an_openrosa_edit_that_does_not_resend_the_photo_keeps_the_stored_photo(site):
    first, edit = new_id(), new_id()
    assert post(site, xml(first), {"house.png": PHOTO_A}).status_code == 201
    r = post(site, xml(edit, deprecated=first))  # as Enketo sends it: the photo left out
    text = r.get_data(as_text=True)
    assert r.status_code == 201 and "Edit received" in text
    assert "Still expected" not in text and "All attachments are here" in text
    record = held(site, edit)
    assert files_of(record) == {"house.png": (sha(PHOTO_A), True)}
    assert record["flags"] == [] and record["deprecated_id"] == first
    assert [v["instance_id"] for v in record["versions"]] == [first, edit]
    assert held(site, first)["state"] == "superseded"
    photo = site.call("GET", f"/api/v1/attachments/{sha(PHOTO_A)}", token=site.admin_token)
    assert photo.data == PHOTO_A


def test_an_openrosa_edit_that_sends_a_new_photo_replaces_it_for_the_new_version_only(site):
    first, edit = new_id(), new_id()
    post(site, xml(first), {"house.png": PHOTO_A})
    r = post(site, xml(edit, deprecated=first), {"house.png": PHOTO_B})
    assert r.status_code == 201
    assert files_of(held(site, edit)) == {"house.png": (sha(PHOTO_B), True)}
    old = site.call("GET", f"/api/v1/review/submissions/{first}", token=site.admin_token)
    assert old.status_code == 200
    db = site.db()
    try:
        rows = db.execute(
            "SELECT s.instance_id, a.sha256 FROM submission_attachments a JOIN submissions s "
            "ON s.id = a.submission_id WHERE s.instance_id IN (?, ?)", [first, edit]).fetchall()
    finally:
        db.close()
    assert dict(rows) == {first: sha(PHOTO_A), edit: sha(PHOTO_B)}


def test_an_openrosa_edit_naming_a_photo_no_version_holds_is_flagged_until_it_arrives(site):
    first, edit = new_id(), new_id()
    post(site, xml(first), {"house.png": PHOTO_A})
    body = xml(edit, deprecated=first, other="garden.png")
    r = post(site, body)
    assert r.status_code == 201 and "Still expected: garden.png" in r.get_data(as_text=True)
    record = held(site, edit)
    assert {"attachment_missing", "invalid"} <= set(record["flags"])
    assert any(f["code"] == "attachment_missing" and "garden.png" in f["message"]
               for f in record["findings"])
    assert files_of(record) == {"house.png": (sha(PHOTO_A), True), "garden.png": (None, False)}
    assert edit in flagged_queue(site)
    # The next part of the same submission brings the file: the flag is lifted.
    r = post(site, body, {"garden.png": PHOTO_C})
    assert r.status_code == 201 and "All attachments are here" in r.get_data(as_text=True)
    record = held(site, edit)
    assert record["flags"] == [] and edit not in flagged_queue(site)
    assert files_of(record)["garden.png"] == (sha(PHOTO_C), True)


# JSON sync -----------------------------------------------------------------------

def record(iid: str, *, deprecated: str | None = None, house: str = "house.png",
           other: str = "", attachments: list[dict] | None = None) -> dict:
    return {"instance_id": iid, "form_id": "house", "form_version": "2026120101",
            "deprecated_id": deprecated,
            "data": {"case_id": "H-2", "house_photo": house, "other_photo": other},
            "attachments": attachments or []}


def push(site, rec: dict) -> dict:
    r = site.call("POST", "/api/v1/sync/push", token=site.enum, json=batch([rec]))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["results"][0]


def upload(site, data: bytes) -> None:
    r = site.call("PUT", f"/api/v1/attachments/{sha(data)}", token=site.enum, data=data)
    assert r.status_code in (200, 201)


def test_a_sync_edit_that_does_not_list_the_photo_keeps_the_stored_photo(site):
    first, edit = new_id(), new_id()
    upload(site, PHOTO_A)
    push(site, record(first, attachments=[{"name": "house.png", "sha256": sha(PHOTO_A)}]))
    result = push(site, record(edit, deprecated=first))
    assert result["status"] == "updated"
    assert result["missing_attachments"] == [] and result["flags"] == []
    assert files_of(held(site, edit)) == {"house.png": (sha(PHOTO_A), True)}


def test_a_sync_edit_that_lists_a_new_photo_replaces_it(site):
    first, edit = new_id(), new_id()
    upload(site, PHOTO_A)
    push(site, record(first, attachments=[{"name": "house.png", "sha256": sha(PHOTO_A)}]))
    fresh = b"\xff\xd8 photo taken for this edit"
    result = push(site, record(edit, deprecated=first,
                               attachments=[{"name": "house.png", "sha256": sha(fresh)}]))
    assert result["status"] == "updated" and result["missing_attachments"] == ["house.png"]
    assert result["flags"] == []  # listed: its bytes are on their way, nothing is lost
    upload(site, fresh)
    assert files_of(held(site, edit)) == {"house.png": (sha(fresh), True)}


def test_a_sync_edit_naming_a_photo_no_version_holds_is_flagged(site):
    first, edit = new_id(), new_id()
    upload(site, PHOTO_A)
    push(site, record(first, attachments=[{"name": "house.png", "sha256": sha(PHOTO_A)}]))
    result = push(site, record(edit, deprecated=first, other="shed.png"))
    assert result["status"] == "updated"
    assert result["missing_attachments"] == ["shed.png"]
    assert {"attachment_missing", "invalid"} <= set(result["flags"])
    assert edit in flagged_queue(site)
    # The device sends the record again with the photo listed: the flag is lifted.
    upload(site, PHOTO_C)
    again = push(site, record(edit, deprecated=first, other="shed.png",
                              attachments=[{"name": "shed.png", "sha256": sha(PHOTO_C)}]))
    assert again["status"] == "duplicate" and again["missing_attachments"] == []
    assert held(site, edit)["flags"] == [] and edit not in flagged_queue(site)
