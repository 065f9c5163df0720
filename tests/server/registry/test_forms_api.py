"""The form registry over real HTTP: publish, list, download, immutability, bad input."""

from __future__ import annotations

import hashlib
import io
import zipfile

from tests.conftest import FIXTURES

HOUSEHOLD = (FIXTURES / "household.md").read_bytes()


def publish(session, url, content, name="household.md"):
    return session.post(f"{url}/api/v1/forms", files={"file": (name, content)})


def table_counts(server):
    db = server.db()
    try:
        return (db.execute("SELECT count(*) FROM form_versions").fetchone()[0],
                db.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    finally:
        db.close()


def test_publish_returns_form_id_version_and_openrosa_hash(live_server, admin):
    r = publish(admin, live_server.url, HOUSEHOLD)
    assert r.status_code == 201
    body = r.json()
    assert body["form_id"] == "tform" and body["version"] == "2026112901"
    xform = admin.get(f"{live_server.url}/api/v1/forms/tform/versions/2026112901/xform")
    assert xform.status_code == 200
    assert body["hash"] == "md5:" + hashlib.md5(xform.content).hexdigest()
    assert b'<data id="tform" version="2026112901">' in xform.content


def test_publishing_same_content_again_is_idempotent(live_server, admin):
    assert publish(admin, live_server.url, HOUSEHOLD).status_code == 201
    again = publish(admin, live_server.url, HOUSEHOLD)
    assert again.status_code == 200
    assert again.json()["version"] == "2026112901"
    listed = admin.get(f"{live_server.url}/api/v1/forms/tform").json()
    assert [v["version"] for v in listed["versions"]] == ["2026112901"]


def test_different_content_under_a_published_version_is_refused(live_server, admin):
    publish(admin, live_server.url, HOUSEHOLD)
    before = table_counts(live_server)
    changed = HOUSEHOLD.replace(b"Working?", b"Working now?")
    r = publish(admin, live_server.url, changed)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "form_version_conflict"
    assert "Raise the version" in r.json()["error"]["message"]
    assert table_counts(live_server) == before


def test_a_new_version_is_listed_beside_the_old_one(live_server, admin):
    publish(admin, live_server.url, HOUSEHOLD)
    v2 = HOUSEHOLD.replace(b"2026112901", b"2026120101").replace(b"Working?", b"Work?")
    assert publish(admin, live_server.url, v2).status_code == 201
    form = admin.get(f"{live_server.url}/api/v1/forms/tform").json()
    assert [v["version"] for v in form["versions"]] == ["2026112901", "2026120101"]
    assert form["current_version"] == "2026120101"
    forms = admin.get(f"{live_server.url}/api/v1/forms").json()["forms"]
    assert {f["form_id"] for f in forms} == {"rss", "tform"}


def test_pyxform_errors_come_back_as_422_with_sheet_and_row(live_server, admin):
    bad = HOUSEHOLD.replace(b"select_one yn", b"select_one nolist")
    r = publish(admin, live_server.url, bad)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "xlsform_invalid"
    assert err["details"]["errors"][0]["row"] == 4
    assert err["details"]["errors"][0]["sheet"] == "survey"
    assert "nolist" in err["message"]


def test_unknown_reference_names_the_row(live_server, admin):
    bad = HOUSEHOLD.replace(b"count(${members})", b"${nonexistent} + 1")
    err = publish(admin, live_server.url, bad).json()["error"]
    assert err["details"]["errors"][0]["row"] == 12
    assert "nonexistent" in err["message"]


def test_corrupt_xlsx_is_refused_and_store_unchanged(live_server, admin):
    before = table_counts(live_server)
    r = publish(admin, live_server.url, b"PK\x03\x04 not really a zip", "survey.xlsx")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "xlsform_unreadable"
    assert table_counts(live_server) == before


def test_zip_bomb_xlsx_is_refused_before_unpacking(live_server, admin):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (80 * 1024 * 1024))
    r = publish(admin, live_server.url, buf.getvalue(), "bomb.xlsx")
    assert r.status_code == 422
    assert "unpack" in r.json()["error"]["message"]


def test_non_xlsform_file_type_is_refused_with_415(live_server, admin):
    r = publish(admin, live_server.url, b"hello", "notes.txt")
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "xlsform_type_unsupported"


def test_missing_file_field_says_what_to_send(live_server, admin):
    r = admin.post(f"{live_server.url}/api/v1/forms", data={"x": "y"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "file_missing"


def test_oversize_upload_is_refused_with_413(tmp_path):
    from tests.helpers.live import LiveServer

    server = LiveServer(tmp_path / "s.db", env={"FIELDSYNC_MAX_CONTENT_LENGTH": "100000"})
    server.start()
    try:
        session = server.session(server.token_for("ama", "admin"))
        r = publish(session, server.url, b"x" * 200_000, "big.md")
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
    finally:
        server.stop()


def test_unknown_form_and_version_are_404_with_codes(live_server, admin):
    r = admin.get(f"{live_server.url}/api/v1/forms/nosuch")
    assert r.status_code == 404 and r.json()["error"]["code"] == "form_unknown"
    r = admin.get(f"{live_server.url}/api/v1/forms/rss/versions/0000/xform")
    assert r.status_code == 404 and r.json()["error"]["code"] == "form_version_unknown"


def test_form_states_open_closing_closed(live_server, admin):
    url = f"{live_server.url}/api/v1/forms/rss/state"
    assert admin.post(url, json={"state": "closing"}).json()["state"] == "closing"
    assert admin.post(url, json={"state": "closed"}).json()["state"] == "closed"
    bad = admin.post(url, json={"state": "archived"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_failed"


def test_publish_is_written_to_the_audit_log(live_server, admin):
    publish(admin, live_server.url, HOUSEHOLD)
    entries = admin.get(f"{live_server.url}/api/v1/audit?action=form.publish").json()["entries"]
    assert any(e["target"] == "tform@2026112901" and e["actor"] == "ama" for e in entries)


def test_unsupported_function_is_refused_at_publish_naming_the_field(live_server, admin):
    bad = HOUSEHOLD.replace(b". > 0 and . < 120", b"frobnicate(.) > 0")
    r = publish(admin, live_server.url, bad)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] in ("xlsform_expression_unsupported", "xlsform_invalid")
    assert "frobnicate" in err["message"]
    assert [f["form_id"] for f in admin.get(f"{live_server.url}/api/v1/forms").json()["forms"]
            ] == ["rss"]
