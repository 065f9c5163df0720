"""fieldsync drives Enketo through its documented API v2, checked request by
request by a stand-in (tests/helpers/enketo.py): each open form's links are
asked for and shown; closing a form deactivates them; a supervisor edits a
record in Enketo and the edit comes back through OpenRosa as the record's
next version, with its files kept; Enketo's media proxy fetches the files
through signed URLs that open one record's files, briefly."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from server.enketo import media
from server.enketo.web import SESSION_KEY
from tests.helpers.accounts import Site, basic_header, cheap_password_hashes
from tests.helpers.enketo import API_KEY, BASE, EnketoStandIn
from tests.helpers.records import batch, household_record

PASSWORD = "enketo-pass-1234"
SERVER = "https://fieldsync.test"
HOUSE = Path(__file__).resolve().parents[2] / "fixtures" / "house.md"
PHOTO = b"\xff\xd8 the house, as the enumerator took it"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        site = Site(tmp_path_factory.mktemp("enketo"))
        site.enketo = EnketoStandIn()
        site.app.extensions[SESSION_KEY] = site.enketo.session()
        site.app.config.update(ENKETO_URL=BASE, ENKETO_API_KEY=API_KEY, SERVER_URL=SERVER)
        site.enum = site.add("enum", "enumerator", PASSWORD)
        site.boss = site.add("boss", "supervisor", PASSWORD)
        site.analyst = site.add("ana", "analyst", PASSWORD)
        r = site.call("POST", "/api/v1/forms", token=site.admin_token,
                      data={"file": (HOUSE.open("rb"), "house.md")})
        assert r.status_code == 201, r.get_data(as_text=True)
        yield site


def api(site, method, path, token=None, **kw):
    return site.call(method, path, token=token or site.admin_token, **kw)


def test_publishing_a_form_asks_enketo_for_its_links_and_the_api_shows_them(site):
    asked = [c for c in site.enketo.calls if c[:2] == ("POST", "/survey/all")
             and c[2]["form_id"] == "house"]
    assert asked and asked[0][2] == {"server_url": SERVER, "form_id": "house"}
    r = api(site, "GET", "/api/v1/forms/house/enketo", token=site.enum)
    body = r.get_json()
    enketo_id = site.enketo.surveys[(SERVER, "house")]["id"]
    assert r.status_code == 200 and body["active"] and body["synced"] and body["error"] is None
    assert body["links"]["url"] == f"{BASE}/{enketo_id}"
    assert body["links"]["offline_url"] == f"{BASE}/x/{enketo_id}"
    assert body["links"]["single_url"] == f"{BASE}/single/{enketo_id}"
    assert body["links"]["preview_url"] == f"{BASE}/preview/{enketo_id}"


def test_closing_a_form_deactivates_its_links_and_opening_it_again_brings_them_back(site):
    before = api(site, "GET", "/api/v1/forms/house/enketo").get_json()["links"]
    r = api(site, "POST", "/api/v1/forms/house/state", json={"state": "closing"})
    assert r.status_code == 200
    assert ("DELETE", "/survey", {"server_url": SERVER, "form_id": "house"}) in \
        site.enketo.calls
    assert site.enketo.surveys[(SERVER, "house")]["active"] is False
    shown = api(site, "GET", "/api/v1/forms/house/enketo").get_json()
    assert shown["active"] is False and shown["synced"] and shown["state"] == "closing"
    assert api(site, "POST", "/api/v1/forms/house/state",
               json={"state": "open"}).status_code == 200
    shown = api(site, "GET", "/api/v1/forms/house/enketo").get_json()
    assert shown["active"] and site.enketo.surveys[(SERVER, "house")]["active"]
    assert shown["links"] == before  # the same survey, the same links


def test_enketo_down_does_not_stop_a_state_change_and_a_refresh_catches_up(site):
    assert api(site, "POST", "/api/v1/forms/tform/enketo").status_code == 200
    site.enketo.down = True
    try:
        r = api(site, "POST", "/api/v1/forms/tform/state", json={"state": "closed"})
        assert r.status_code == 200 and r.get_json()["state"] == "closed"
        shown = api(site, "GET", "/api/v1/forms/tform/enketo").get_json()
        assert shown["synced"] is False and "did not answer" in shown["error"]
        r = api(site, "POST", "/api/v1/forms/tform/enketo")
        assert r.status_code == 502 and r.get_json()["error"]["code"] == "enketo_unreachable"
    finally:
        site.enketo.down = False
    assert site.enketo.surveys[(SERVER, "tform")]["active"] is True  # Enketo missed it
    r = api(site, "POST", "/api/v1/forms/tform/enketo")
    assert r.status_code == 200 and r.get_json()["synced"] and r.get_json()["error"] is None
    assert site.enketo.surveys[(SERVER, "tform")]["active"] is False
    api(site, "POST", "/api/v1/forms/tform/state", json={"state": "open"})


def test_a_wrong_api_key_is_a_clear_refusal_and_the_key_is_never_shown(site, caplog):
    site.app.config["ENKETO_API_KEY"] = "not-the-key"
    try:
        with caplog.at_level(logging.INFO):
            r = api(site, "POST", "/api/v1/forms/house/enketo")
    finally:
        site.app.config["ENKETO_API_KEY"] = API_KEY
    error = r.get_json()["error"]
    assert r.status_code == 502 and error["code"] == "enketo_refused"
    assert error["details"]["status"] == 401 and "FIELDSYNC_ENKETO_API_KEY" in error["message"]
    assert "not-the-key" not in r.get_data(as_text=True) and "not-the-key" not in caplog.text


def test_without_settings_the_refresh_says_what_to_set(site):
    site.app.config["SERVER_URL"] = None
    try:
        r = api(site, "POST", "/api/v1/forms/house/enketo")
    finally:
        site.app.config["SERVER_URL"] = SERVER
    assert r.status_code == 409
    assert r.get_json()["error"]["details"]["missing"] == ["FIELDSYNC_SERVER_URL"]


def test_only_an_admin_refreshes_links(site):
    assert api(site, "POST", "/api/v1/forms/house/enketo", token=site.boss).status_code == 403


# The edit flow -------------------------------------------------------------------

def submit(site, xml: bytes, files: dict[str, bytes] | None = None, user="enum"):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    return site.call("POST", "/submission", auth=basic_header(user, PASSWORD), data=data)


def house_xml(iid: str, case: str, deprecated: str | None = None) -> bytes:
    meta = f"<orx:instanceID>{iid}</orx:instanceID>" + (
        f"<orx:deprecatedID>{deprecated}</orx:deprecatedID>" if deprecated else "")
    return (f'<data xmlns:orx="http://openrosa.org/xforms" id="house" version="2026120101">'
            f"<case_id>{case}</case_id><house_photo>house.jpg</house_photo><other_photo/>"
            f"<orx:meta>{meta}</orx:meta></data>").encode()


def edited_by_enketo(instance: str, case: str) -> tuple[bytes, str]:
    """What Enketo submits after an edit: the answers changed, a new instanceID,
    the edited one as deprecatedID; the unchanged photo is not sent."""
    root = etree.fromstring(instance.encode())
    root.find("case_id").text = case
    meta = root.find("{http://openrosa.org/xforms}meta")
    old = meta.find("{http://openrosa.org/xforms}instanceID")
    new_id = f"uuid:{uuid.uuid4()}"
    deprecated = meta.find("{http://openrosa.org/xforms}deprecatedID")
    if deprecated is None:
        deprecated = etree.SubElement(meta, "{http://openrosa.org/xforms}deprecatedID")
    deprecated.text, old.text = old.text, new_id
    return etree.tostring(root), new_id


def fetch_as_enketos_media_proxy(site, url: str):
    """Enketo's server fetches a file with the browser's cookies only: no credentials."""
    assert url.startswith(SERVER)
    return site.call("GET", url[len(SERVER):])


def test_a_record_edited_in_enketo_comes_back_as_its_next_version_with_its_photo(site):
    first = f"uuid:{uuid.uuid4()}"
    sent = house_xml(first, "H-ORIG")
    assert submit(site, sent, {"house.jpg": PHOTO}).status_code == 201
    r = api(site, "POST", f"/api/v1/submissions/{first}/enketo-edit", token=site.boss)
    assert r.status_code == 200, r.get_data(as_text=True)
    answer = r.get_json()
    held = site.enketo.instances[(SERVER, "house", first)]
    assert answer["edit_url"].startswith(f"{BASE}/edit/") and first in answer["edit_url"]
    assert held["instance"].encode() == sent  # the instance as received
    assert held["return_url"] == f"{SERVER}/submissions/{first}"
    assert set(held["attachments"]) == {"house.jpg"}
    photo = fetch_as_enketos_media_proxy(site, held["attachments"]["house.jpg"])
    assert photo.status_code == 200 and photo.data == PHOTO
    edited, second = edited_by_enketo(held["instance"], "H-FIXED")
    r = submit(site, edited, user="boss")  # Enketo posts with the supervisor's credentials
    text = r.get_data(as_text=True)
    assert r.status_code == 201 and "Edit received" in text and "Still expected" not in text
    record = api(site, "GET", f"/api/v1/submissions/{second}").get_json()
    assert record["state"] == "current" and record["data"]["case_id"] == "H-FIXED"
    assert record["deprecated_id"] == first and record["flags"] == []
    assert [(v["instance_id"], v["state"]) for v in record["versions"]] == [
        (first, "superseded"), (second, "current")]
    assert [(a["name"], a["sha256"], a["received"]) for a in record["attachments"]] == [
        ("house.jpg", hashlib.sha256(PHOTO).hexdigest(), True)]


def test_asking_to_edit_an_older_version_edits_the_current_one(site):
    first = f"uuid:{uuid.uuid4()}"
    submit(site, house_xml(first, "H-A"), {"house.jpg": PHOTO})
    second = f"uuid:{uuid.uuid4()}"
    assert submit(site, house_xml(second, "H-B", deprecated=first)).status_code == 201
    r = api(site, "POST", f"/api/v1/submissions/{first}/enketo-edit", token=site.boss)
    assert r.status_code == 200 and r.get_json()["instance_id"] == second
    again = api(site, "POST", f"/api/v1/submissions/{second}/enketo-edit", token=site.boss)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "enketo_edit_busy"


def test_a_record_sent_as_json_is_rebuilt_as_an_instance_for_enketo(site):
    rec = household_record("JSON-1")
    assert site.call("POST", "/api/v1/sync/push", token=site.enum,
                     json=batch([rec])).status_code == 200
    r = api(site, "POST", f"/api/v1/submissions/{rec['instance_id']}/enketo-edit",
            token=site.boss)
    assert r.status_code == 200, r.get_data(as_text=True)
    instance = site.enketo.instances[(SERVER, "tform", rec["instance_id"])]["instance"]
    root = etree.fromstring(instance.encode())
    assert root.get("id") == "tform" and root.findtext("case_id") == "JSON-1"
    assert [m.findtext("m_age") for m in root.findall("members")] == ["3", "40"]


def test_edits_need_an_open_form_and_the_review_permission(site):
    first = f"uuid:{uuid.uuid4()}"
    submit(site, house_xml(first, "H-C"), {"house.jpg": PHOTO})
    assert api(site, "POST", f"/api/v1/submissions/{first}/enketo-edit",
               token=site.analyst).status_code == 403
    api(site, "POST", "/api/v1/forms/house/state", json={"state": "closed"})
    try:
        r = api(site, "POST", f"/api/v1/submissions/{first}/enketo-edit", token=site.boss)
    finally:
        api(site, "POST", "/api/v1/forms/house/state", json={"state": "open"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "enketo_form_not_open"
    assert (SERVER, "house", first) not in site.enketo.instances


# Signed attachment URLs ------------------------------------------------------------

@pytest.fixture(scope="module")
def two_records(site):
    ids = []
    for photo in (PHOTO, b"\xff\xd8 another house"):
        iid = f"uuid:{uuid.uuid4()}"
        assert submit(site, house_xml(iid, "H-S"), {"house.jpg": photo}).status_code == 201
        ids.append(iid)
    return ids


def signed_path(site, instance_id: str, expires: int, name: str = "house.jpg") -> str:
    db = site.db()
    try:
        url = media.media_url(SERVER, media.media_key(db), instance_id, name, expires)
    finally:
        db.close()
    return urlsplit(url).path


def test_a_signed_url_opens_its_records_file_without_credentials(site, two_records):
    r = site.call("GET", signed_path(site, two_records[0], int(media.clock()) + 60))
    assert r.status_code == 200 and r.data == PHOTO
    assert r.headers["Cache-Control"] == "private, no-store"


def test_a_signed_url_stops_working_when_it_expires(site, two_records, monkeypatch):
    path = signed_path(site, two_records[0], int(media.clock()) + media.MEDIA_URL_SECONDS)
    monkeypatch.setattr(media, "clock", lambda: 10**10)
    r = site.call("GET", path)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "media_link_expired"


def test_a_signed_url_opens_no_other_records_files(site, two_records):
    mine, other = two_records
    path = signed_path(site, mine, int(media.clock()) + 60)
    borrowed = path.replace(mine, other)  # another record's file with this record's proof
    r = site.call("GET", borrowed)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "media_link_invalid"
    expires, signature = path.split("/")[-2].split(".")
    longer = path.replace(f"{expires}.{signature}", f"{int(expires) + 3600}.{signature}")
    assert site.call("GET", longer).status_code == 403  # its time cannot be stretched
    r = site.call("GET", signed_path(site, mine, int(media.clock()) + 60, "other.jpg"))
    assert r.status_code == 404  # a name the record does not hold
