"""A simulated ODK Collect against a live server: form download, submissions of
realistic RSS instances and of a form with nested repeats and photos, split
uploads (across a server restart), duplicates, edits, conflicts and hostile XML.

Each test is a behaviour Collect relies on, over real HTTP on loopback against
a real SQLite file, with Digest authentication as Collect uses it."""

from __future__ import annotations

import hashlib
import random

import pytest
from lxml import etree
from urllib3 import encode_multipart_formdata

from forms.instance import record_to_instance
from forms.model import compile_xform
from tests.helpers.collect import (PASSWORD, VISITS_MD, Collect, collect_xml, message, new_id,
                                   rss_instance)
from tests.helpers.live import LiveServer


def rows(server: LiveServer, instance_id: str) -> list[tuple]:
    db = server.db()
    try:
        return db.execute("SELECT id, state, raw FROM submissions WHERE instance_id = ? "
                          "ORDER BY id", [instance_id]).fetchall()
    finally:
        db.close()


def attachments(server: LiveServer, instance_id: str) -> dict[str, bytes | None]:
    db = server.db()
    try:
        found = db.execute(
            "SELECT a.name, b.data FROM submission_attachments a JOIN submissions s "
            "ON s.id = a.submission_id LEFT JOIN blobs b ON b.sha256 = a.sha256 "
            "WHERE s.instance_id = ?", [instance_id]).fetchall()
        return dict(found)
    finally:
        db.close()


@pytest.fixture
def collect(live_server):
    live_server.token_for("enum1", "enumerator", PASSWORD)
    return Collect(live_server.url, "enum1")


@pytest.fixture
def rss(collect):
    return collect.model("rss")


@pytest.fixture
def visits(live_server, admin, collect):
    r = admin.post(f"{live_server.url}/api/v1/forms", files={"file": ("visits.md", VISITS_MD)})
    assert r.status_code == 201, r.text
    return collect.model("visits")


def visits_record(model, photos: tuple[str, str, str]) -> dict:
    site, first, second = photos
    return {"instance_id": new_id(), "form_id": "visits", "form_version": "3", "data": {
        "welcome": "", "village": "Kindia", "village_code": "k01", "site_photo": site,
        "hh": {"head": "Aissatou", "member": [
            {"name": "Aissatou", "age": "34", "visit": [
                {"when": "2026-01-02", "photo": first}, {"when": "2026-02-03", "photo": ""}]},
            {"name": "Mamadou", "age": "9", "visit": [{"when": "2026-01-05", "photo": second}]},
        ]}}}


def test_collect_downloads_the_rss_form_with_a_matching_hash(collect):
    [entry] = collect.form_list(formID="rss")
    xform = collect.download(entry)
    assert entry["hash"] == "md5:" + hashlib.md5(xform).hexdigest()
    assert compile_xform(xform).form_id == "rss"


def test_realistic_rss_instances_are_each_received_once(live_server, collect, rss):
    rng = random.Random(7)
    for _ in range(8):
        record = rss_instance(rss, rng)
        r = collect.submit(collect_xml(record, rss))
        assert r.status_code == 201, r.text
        assert r.headers["X-OpenRosa-Version"] == "1.0"
        assert record["instance_id"] in message(r)
        [(_id, state, raw)] = rows(live_server, record["instance_id"])
        assert state == "current" and raw == collect_xml(record, rss)


def test_the_identical_record_again_answers_202_and_stores_no_new_row(live_server, collect,
                                                                      rss):
    xml = collect_xml(rss_instance(rss, random.Random(1)), rss)
    first, again = collect.submit(xml), collect.submit(xml)
    assert (first.status_code, again.status_code) == (201, 202)
    assert "Already received" in message(again)
    instance_id = etree.fromstring(xml).findtext(".//{http://openrosa.org/xforms}instanceID")
    assert len(rows(live_server, instance_id)) == 1


def test_same_instance_id_with_different_xml_is_409_and_says_why(live_server, collect, rss):
    record = rss_instance(rss, random.Random(2))
    assert collect.submit(collect_xml(record, rss)).status_code == 201
    record["data"]["age"] = "61"
    r = collect.submit(collect_xml(record, rss))
    assert r.status_code == 409
    assert record["instance_id"] in message(r) and "deprecatedID" in message(r)
    assert len(rows(live_server, record["instance_id"])) == 2  # both kept, flagged


def test_an_edit_with_deprecated_id_supersedes_the_original(live_server, collect, rss):
    original = rss_instance(rss, random.Random(3))
    assert collect.submit(collect_xml(original, rss)).status_code == 201
    edited = {**original, "instance_id": new_id(), "deprecated_id": original["instance_id"],
              "data": {**original["data"], "age": "45"}}
    r = collect.submit(collect_xml(edited, rss))
    assert r.status_code == 201 and "Edit received" in message(r)
    assert rows(live_server, original["instance_id"])[0][1] == "superseded"
    assert rows(live_server, edited["instance_id"])[0][1] == "current"


def test_nested_repeats_with_photos_arrive_whole(live_server, collect, visits):
    photos = {"site.jpg": b"\xff\xd8site", "v1.jpg": b"\xff\xd8one", "v3.jpg": b"\xff\xd8two"}
    record = visits_record(visits, tuple(photos))
    r = collect.submit(record_to_instance(record, visits), photos)
    assert r.status_code == 201 and "All attachments are here" in message(r)
    assert attachments(live_server, record["instance_id"]) == photos


def test_a_split_upload_completes_one_record_across_a_server_restart(live_server, collect,
                                                                      visits):
    photos = {"site.jpg": b"\xff\xd8site" * 100, "v1.jpg": b"\xff\xd8one" * 100,
              "v3.jpg": b"\xff\xd8two" * 100}
    record = visits_record(visits, tuple(photos))
    xml = record_to_instance(record, visits)
    first = collect.submit(xml, {"site.jpg": photos["site.jpg"]})
    assert first.status_code == 201
    assert "v1.jpg" in message(first) and "v3.jpg" in message(first)
    live_server.restart()
    second = collect.submit(xml, {"v1.jpg": photos["v1.jpg"], "v3.jpg": photos["v3.jpg"]})
    assert second.status_code == 201, second.text
    assert "All attachments are here" in message(second)
    assert len(rows(live_server, record["instance_id"])) == 1
    assert attachments(live_server, record["instance_id"]) == photos


def test_a_chunked_submission_is_received(live_server, collect, rss):
    record = rss_instance(rss, random.Random(4))
    body, content_type = encode_multipart_formdata(
        [("xml_submission_file", ("submission.xml", collect_xml(record, rss), "text/xml"))])
    chunks = (body[i:i + 512] for i in range(0, len(body), 512))
    r = collect.http.post(f"{live_server.url}/submission", data=chunks,
                          headers={"Content-Type": content_type}, timeout=30)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, r.text
    assert len(rows(live_server, record["instance_id"])) == 1


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><data id="rss" version="2026112901">&c;</data>',
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<data id="rss" version="2026112901"><case_id>&x;</case_id></data>',
    b'<data id="rss" version="2026112901"><case_id>unclosed</data>',
    b'\xff\xfe not xml at all',
], ids=["billion_laughs", "external_entity", "malformed", "binary"])
def test_hostile_or_malformed_xml_is_refused_and_the_server_keeps_answering(
        live_server, collect, xml):
    r = collect.submit(xml)
    assert 400 <= r.status_code < 500
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert message(r)
    assert collect.form_list()  # still answering


def test_a_post_without_the_instance_part_is_400(collect, live_server):
    r = collect.http.post(f"{live_server.url}/submission",
                          files={"photo.jpg": ("photo.jpg", b"x")}, timeout=10)
    assert r.status_code == 400 and "xml_submission_file" in message(r)


def test_an_instance_id_that_is_not_a_uuid_is_refused(collect, rss):
    record = rss_instance(rss, random.Random(5), instance_id="not-a-uuid")
    r = collect.submit(collect_xml(record, rss))
    assert r.status_code == 400 and "uuid:" in message(r)


def test_a_submission_for_an_unknown_form_version_is_kept_and_flagged(live_server, collect,
                                                                      rss):
    record = {**rss_instance(rss, random.Random(6)), "form_version": "1999"}
    r = collect.submit(collect_xml(record, rss))
    assert r.status_code == 201 and "flagged" in message(r)
    assert rows(live_server, record["instance_id"])[0][1] == "quarantined"


def test_an_oversize_body_is_413_with_the_limit_advertised(tmp_path):
    server = LiveServer(tmp_path / "small.db",
                        env={"FIELDSYNC_MAX_CONTENT_LENGTH": "100000"}).start()
    try:
        server.token_for("enum1", "enumerator", PASSWORD)
        collect = Collect(server.url, "enum1")
        head = collect.http.head(f"{server.url}/submission", timeout=10)
        assert head.headers["X-OpenRosa-Accept-Content-Length"] == "100000"
        xml = b'<data id="rss" version="2026112901"/>'
        r = collect.submit(xml, {"big.jpg": b"\0" * 200_000})
        assert r.status_code == 413
        assert r.headers["X-OpenRosa-Version"] == "1.0"
        body, content_type = encode_multipart_formdata(
            [("xml_submission_file", ("s.xml", xml, "text/xml")),
             ("big.jpg", ("big.jpg", b"\0" * 200_000, "image/jpeg"))])
        chunked = collect.http.post(
            f"{server.url}/submission", data=(body[i:i + 4096] for i in range(0, len(body), 4096)),
            headers={"Content-Type": content_type}, timeout=30)
        assert chunked.status_code == 413
        assert collect.form_list()
    finally:
        server.stop()
