"""Public links: an anonymous, revocable address that accepts records of one
form only, throttled per client address, with records marked as coming from
it; Enketo gets a survey of its own for each link, ended when the link is."""

from __future__ import annotations

import csv
import io
import uuid
from urllib.parse import urlsplit

import pytest

from server.enketo.web import SESSION_KEY
from tests.helpers.accounts import Site, cheap_password_hashes
from tests.helpers.enketo import API_KEY, BASE, EnketoStandIn
from tests.helpers.records import stored_count

SERVER = "https://fieldsync.test"
PER_HOUR = 4


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        site = Site(tmp_path_factory.mktemp("public"), PUBLIC_LINK_SUBMISSIONS_PER_HOUR=PER_HOUR)
        site.enketo = EnketoStandIn()
        site.app.extensions[SESSION_KEY] = site.enketo.session()
        site.app.config.update(ENKETO_URL=BASE, ENKETO_API_KEY=API_KEY, SERVER_URL=SERVER)
        site.boss = site.add("boss", "supervisor")
        yield site


def create(site, label="Self-administered round 1") -> dict:
    r = site.call("POST", "/api/v1/forms/tform/public-links", token=site.admin_token,
                  json={"label": label})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def door(link: dict) -> str:
    return urlsplit(link["server_url"]).path


def xml(form="tform", case="PUB-1", deprecated=None) -> bytes:
    meta = f"<instanceID>uuid:{uuid.uuid4()}</instanceID>"
    if deprecated:
        meta += f"<deprecatedID>{deprecated}</deprecatedID>"
    return (f'<data id="{form}" version="2026112901"><case_id>{case}</case_id>'
            f"<econ><working>no</working></econ><meta>{meta}</meta></data>").encode()


def send(site, link, body: bytes, address="10.9.0.1"):
    return site.call("POST", f"{door(link)}/submission", address=address,
                     data={"xml_submission_file": (io.BytesIO(body), "s.xml", "text/xml")})


def test_an_admin_creates_a_link_and_enketo_gets_a_survey_for_its_address(site):
    link = create(site)
    assert link["server_url"].startswith(f"{SERVER}/public/") and link["revoked_at"] is None
    survey = site.enketo.surveys[(link["server_url"], "tform")]
    assert survey["active"]
    assert link["enketo"]["links"]["single_url"] == f"{BASE}/single/{survey['id']}"
    listed = site.call("GET", "/api/v1/forms/tform/public-links", token=site.admin_token)
    assert link["id"] in [x["id"] for x in listed.get_json()["public_links"]]
    assert site.call("POST", "/api/v1/forms/tform/public-links", token=site.boss,
                     json={}).status_code == 403


def test_the_token_is_kept_only_sealed_and_hashed(site):
    link = create(site)
    token = door(link).rsplit("/", 1)[-1]
    db = site.db()
    try:
        dump = "\n".join(db.conn.iterdump())
    finally:
        db.close()
    assert token not in dump


def test_a_link_lists_and_serves_its_one_form_to_anyone(site):
    link = create(site)
    r = site.call("GET", f"{door(link)}/formList")
    assert r.status_code == 200 and r.headers["X-OpenRosa-Version"] == "1.0"
    assert b"<formID>tform</formID>" in r.data and b"<formID>rss</formID>" not in r.data
    assert f"{door(link)}/forms/tform/versions/2026112901/xform".encode() in r.data
    assert site.call("GET", f"{door(link)}/forms/tform/versions/2026112901/xform"
                     ).status_code == 200
    rss = site.call("GET", f"{door(link)}/forms/rss/versions/x/xform")
    assert rss.status_code == 404
    assert site.call("HEAD", f"{door(link)}/submission").status_code == 204


def test_records_sent_through_a_link_are_marked_as_such(site):
    link = create(site, "marked")
    r = send(site, link, xml(case="PUB-MARK"), address="10.9.1.1")
    assert r.status_code == 201, r.get_data(as_text=True)
    iid = r.get_data(as_text=True).split("Received: ")[1].split(".")[0]
    record = site.call("GET", f"/api/v1/submissions/{iid}", token=site.admin_token).get_json()
    assert record["origin"]["door"] == "public_link"
    assert record["origin"]["user"] == f"public-link:{link['id']}"
    export = site.call("GET", "/api/v1/forms/tform/submissions?format=csv",
                       token=site.admin_token).get_data(as_text=True)
    rows = {row["case_id"]: row for row in csv.DictReader(io.StringIO(export))}
    assert rows["PUB-MARK"]["enumerator"] == f"public-link:{link['id']}"


def test_a_link_refuses_edits_and_other_forms_and_stores_nothing(site):
    link = create(site)
    held = stored_count(site)
    r = send(site, link, xml(deprecated=f"uuid:{uuid.uuid4()}"), address="10.9.2.1")
    assert r.status_code == 403 and b"cannot change" in r.data
    r = send(site, link, xml(form="rss"), address="10.9.2.1")
    assert r.status_code == 403 and b"accepts records of form" in r.data
    assert stored_count(site) == held


def test_a_link_is_throttled_per_client_address(site):
    link = create(site)
    for i in range(PER_HOUR):
        assert send(site, link, xml(case=f"T-{i}"), address="10.9.3.1").status_code == 201
    held = stored_count(site)
    r = send(site, link, xml(case="T-over"), address="10.9.3.1")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert stored_count(site) == held  # refused before anything was stored
    assert send(site, link, xml(case="T-else"), address="10.9.3.2").status_code == 201
    throttles = site.call("GET", "/api/v1/throttles", token=site.admin_token).get_json()
    assert "public:10.9.3.1" in {t["key"] for t in throttles["throttles"]}


def test_a_revoked_link_accepts_nothing_and_its_enketo_survey_stops(site):
    link = create(site)
    r = site.call("DELETE", f"/api/v1/public-links/{link['id']}", token=site.admin_token)
    assert r.status_code == 200 and r.get_json()["revoked_at"] is not None
    assert r.get_json()["server_url"] is None  # its address is no longer shown
    assert site.enketo.surveys[(link["server_url"], "tform")]["active"] is False
    refused = send(site, link, xml(), address="10.9.4.1")
    assert refused.status_code == 404 and b"revoked" in refused.data
    assert site.call("GET", f"{door(link)}/formList").status_code == 404


def test_a_closed_forms_link_refuses_records_and_lists_nothing(site):
    link = create(site)
    site.call("POST", "/api/v1/forms/tform/state", token=site.admin_token,
              json={"state": "closed"})
    try:
        assert site.enketo.surveys[(link["server_url"], "tform")]["active"] is False
        r = send(site, link, xml(), address="10.9.5.1")
        assert r.status_code == 403 and b"closed" in r.data
        assert b"<formID>" not in site.call("GET", f"{door(link)}/formList").data
    finally:
        site.call("POST", "/api/v1/forms/tform/state", token=site.admin_token,
                  json={"state": "open"})
    assert site.enketo.surveys[(link["server_url"], "tform")]["active"] is True
