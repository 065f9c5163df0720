"""OpenRosa form list, XForm download, manifest and form media over live HTTP."""

from __future__ import annotations

import hashlib

import pytest
import requests
from lxml import etree
from requests.auth import HTTPDigestAuth

from server.openrosa.media import media_name
from tests.conftest import FIXTURES
from tests.helpers.collect import PASSWORD, VISITS_MD, Collect

MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
VILLAGES_CSV = b"name,label\nk01,Kindia\nb02,Boke\n"
LOGO = b"\x89PNG\r\n\x1a\n" + b"logo" * 50


@pytest.fixture
def collect(live_server):
    live_server.token_for("enum1", "enumerator", PASSWORD)
    return Collect(live_server.url, "enum1")


@pytest.fixture
def visits(live_server, admin):
    r = admin.post(f"{live_server.url}/api/v1/forms", files={"file": ("visits.md", VISITS_MD)})
    assert r.status_code == 201
    return f"{live_server.url}/api/v1/forms/visits/versions/3/media"


def upload(admin, url, name, data, content_type="application/octet-stream"):
    return admin.post(url, files={"file": (name, data, content_type)})


def manifest(collect, entry) -> list[dict]:
    r = collect.http.get(entry["manifestUrl"], timeout=10)
    assert r.status_code == 200 and r.headers["X-OpenRosa-Version"] == "1.0"
    root = etree.fromstring(r.content)
    return [{etree.QName(c).localname: c.text for c in m}
            for m in root.iter(f"{MANIFEST_NS}mediaFile")]


def test_formlist_lists_open_and_closing_forms_but_not_closed(live_server, admin, collect,
                                                              visits):
    assert {e["formID"] for e in collect.form_list()} == {"rss", "visits"}
    for state, listed in (("closing", {"rss", "visits"}), ("closed", {"rss"})):
        admin.post(f"{live_server.url}/api/v1/forms/visits/state", json={"state": state})
        assert {e["formID"] for e in collect.form_list()} == listed


def test_formlist_formid_filter_and_verbose_description(collect, visits):
    [entry] = collect.form_list(formID="visits", verbose="true")
    assert entry["name"] == "Household visits" and entry["version"] == "3"
    assert "Household visits" in entry["descriptionText"]
    assert collect.form_list(formID="nosuchform") == []


def test_every_hash_is_the_md5_of_the_bytes_served(collect, visits):
    for entry in collect.form_list():
        body = collect.download(entry)
        assert entry["hash"] == "md5:" + hashlib.md5(body).hexdigest()
        assert entry["downloadUrl"].endswith(f"/forms/{entry['formID']}/versions/"
                                             f"{entry['version']}/xform")


def test_a_form_without_media_has_no_manifest_url(live_server, admin, collect):
    # The built-in RSS reads the returnees list (a media file) since entity lists.
    household = (FIXTURES / "household.md").read_bytes()
    r = admin.post(f"{live_server.url}/api/v1/forms", files={"file": ("household.md", household)})
    assert r.status_code == 201
    [entry] = collect.form_list(formID="tform")
    assert "manifestUrl" not in entry


def test_uploaded_media_appear_in_the_manifest_and_download_intact(admin, collect, visits):
    r = upload(admin, visits, "villages.csv", VILLAGES_CSV, "text/csv")
    assert r.status_code == 201 and r.json()["referenced"] is True
    assert upload(admin, visits, "logo.png", LOGO, "image/png").status_code == 201
    [entry] = collect.form_list(formID="visits")
    files = {f["filename"]: f for f in manifest(collect, entry)}
    assert set(files) == {"villages.csv", "logo.png"}
    for name, data in (("villages.csv", VILLAGES_CSV), ("logo.png", LOGO)):
        assert files[name]["hash"] == "md5:" + hashlib.md5(data).hexdigest()
        got = collect.http.get(files[name]["downloadUrl"], timeout=10)
        assert got.status_code == 200 and got.content == data


def test_a_client_file_name_is_reduced_to_its_last_component(admin, visits):
    r = upload(admin, visits, "../../etc/villages.csv", VILLAGES_CSV)
    assert r.status_code == 201 and r.json()["name"] == "villages.csv"
    assert media_name("C:\\Users\\enum\\logo.png") == "logo.png"  # as some browsers send it


@pytest.mark.parametrize("name", ["..", ".hidden", "a/..", "bad:name.csv", "x" * 300])
def test_an_unusable_media_name_is_refused_with_json(admin, visits, name):
    r = upload(admin, visits, name, b"x")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "media_name_invalid"


def test_the_same_media_again_is_a_no_op_and_different_bytes_are_refused(admin, visits):
    assert upload(admin, visits, "villages.csv", VILLAGES_CSV).status_code == 201
    assert upload(admin, visits, "villages.csv", VILLAGES_CSV).status_code == 200
    r = upload(admin, visits, "villages.csv", VILLAGES_CSV + b"x03,Labe\n")
    assert r.status_code == 409 and r.json()["error"]["code"] == "media_conflict"


def test_only_an_admin_uploads_media(live_server, visits):
    token = live_server.token_for("sup", "supervisor", PASSWORD)
    r = requests.post(visits, files={"file": ("logo.png", LOGO)}, timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_media_for_an_unknown_version_is_404(admin, live_server, collect):
    r = upload(admin, f"{live_server.url}/api/v1/forms/visits/versions/9/media", "a.csv", b"x")
    assert r.status_code == 404
    missing = collect.http.get(f"{live_server.url}/forms/rss/versions/1/manifest", timeout=10)
    assert missing.status_code == 404 and missing.headers["X-OpenRosa-Version"] == "1.0"


def test_head_submission_is_204_with_the_openrosa_headers(live_server, collect):
    r = collect.http.head(f"{live_server.url}/submission", timeout=10)
    assert r.status_code == 204
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert int(r.headers["X-OpenRosa-Accept-Content-Length"]) > 1_000_000


def test_digest_auth_reaches_every_openrosa_get(live_server, collect, admin, visits):
    upload(admin, visits, "logo.png", LOGO)
    auth = HTTPDigestAuth("enum1", PASSWORD)
    [entry] = collect.form_list(formID="visits")
    for url in (entry["downloadUrl"], entry["manifestUrl"],
                f"{live_server.url}/forms/visits/versions/3/media/logo.png"):
        assert requests.get(url, auth=auth, timeout=10).status_code == 200
        assert requests.get(url, timeout=10).status_code == 401


def test_behind_a_tls_proxy_the_urls_say_https(live_server, collect):
    r = collect.http.get(f"{live_server.url}/formList", timeout=10,
                         headers={"X-Forwarded-Proto": "https"})
    assert b"<downloadUrl>https://" in r.content
