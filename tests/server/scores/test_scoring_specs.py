"""Publishing scoring specs over HTTP: stored, checked against the form, immutable."""

from __future__ import annotations

import json

import pytest

from tests.helpers.scoring import envelope, push, satisfaction_record, spec_doc


def specs_url(srv, *rest):
    return "/".join([f"{srv.url}/api/v1/scoring/specs", *rest])


def stored_counts(srv) -> tuple[int, int]:
    db = srv.db()
    try:
        return (db.execute("SELECT count(*) FROM scoring_specs").fetchone()[0],
                db.execute("SELECT count(*) FROM rescore_jobs").fetchone()[0])
    finally:
        db.close()


def test_serve_installs_the_builtin_rss_v1_spec_in_the_store(rss):
    specs = rss.admin.get(specs_url(rss)).json()["specs"]
    assert [(s["version"], s["form_id"], s["published_by"]) for s in specs] == [
        ("rss-v1", "rss", "fieldsync")]
    doc = rss.admin.get(specs_url(rss, "rss-v1")).json()["document"]
    assert "NOT been checked" in doc["provenance"]


def test_publishing_a_spec_stores_it_and_queues_rescoring_of_past_records(rss):
    push(rss, rss.device, [envelope(satisfaction_record("satisfied"), rss.version)
                           for _ in range(3)])
    r = rss.admin.post(specs_url(rss), json=spec_doc("rss-v2"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["version"], body["form_id"], body["created"]) == ("rss-v2", "rss", True)
    assert body["job"]["state"] == "pending" and body["job"]["total"] == 3
    assert [s["version"] for s in rss.admin.get(specs_url(rss)).json()["specs"]] == [
        "rss-v1", "rss-v2"]
    jobs = rss.admin.get(f"{rss.url}/api/v1/scoring/jobs").json()["jobs"]
    assert [(j["scoring_version"], j["state"]) for j in jobs] == [("rss-v2", "pending")]


def test_a_spec_can_be_uploaded_as_a_multipart_file(rss):
    raw = json.dumps(spec_doc("rss-v2")).encode()
    r = rss.admin.post(specs_url(rss), files={"file": ("rss-v2.json", raw)})
    assert r.status_code == 201 and r.json()["job"] is None  # no records yet


def test_publishing_the_same_spec_again_answers_200_and_changes_nothing(rss):
    assert rss.admin.post(specs_url(rss), json=spec_doc("rss-v2")).status_code == 201
    again = rss.admin.post(specs_url(rss), json=spec_doc("rss-v2"))
    assert again.status_code == 200 and again.json()["created"] is False
    assert stored_counts(rss) == (2, 0)


def test_different_content_under_a_published_version_is_refused_409(rss):
    rss.admin.post(specs_url(rss), json=spec_doc("rss-v2"))
    changed = spec_doc("rss-v2")
    changed["title"] = "something else"
    r = rss.admin.post(specs_url(rss), json=changed)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "scoring_spec_conflict"
    assert "new 'version'" in r.json()["error"]["message"]


def test_a_spec_with_a_bad_value_is_refused_422_naming_the_row_and_nothing_is_stored(rss):
    push(rss, rss.device, [envelope(satisfaction_record("satisfied"), rss.version)])
    bad = spec_doc("rss-v2")
    bad["indicators"][2]["values"]["yes"] = 2  # can_borrow, the third indicator row
    r = rss.admin.post(specs_url(rss), json=bad)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "scoring_spec_invalid"
    assert "'indicators' row 3" in error["message"]
    assert {"sheet": "indicators", "row": 3, "name": "can_borrow"}.items() <= \
        error["details"]["errors"][0].items()
    assert stored_counts(rss) == (1, 0)


def test_a_spec_naming_a_field_the_form_lacks_is_refused_422_with_sheet_and_row(rss):
    bad = spec_doc("rss-v2")
    bad["indicators"][0]["field"] = "no_such_question"
    r = rss.admin.post(specs_url(rss), json=bad)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "scoring_spec_form_mismatch"
    assert error["details"]["errors"][0]["sheet"] == "indicators"
    assert error["details"]["errors"][0]["row"] == 1
    assert stored_counts(rss) == (1, 0)


def test_weights_that_do_not_sum_to_one_are_refused_naming_the_score(rss):
    bad = spec_doc("rss-v2")
    bad["indicators"][0]["weights"]["composite"] = 0.5
    r = rss.admin.post(specs_url(rss), json=bad)
    assert r.status_code == 422
    assert any(e["sheet"] == "scores" and e["name"] == "composite"
               for e in r.json()["error"]["details"]["errors"])
    assert stored_counts(rss) == (1, 0)


@pytest.mark.parametrize("body,code", [
    (b"not json", "scoring_spec_invalid"),
    (b"[1, 2]", "scoring_spec_invalid"),
    (b"\xff\xfe", "scoring_spec_invalid"),
    (b"", "file_missing"),
])
def test_a_body_that_is_not_a_spec_is_a_4xx_with_a_code(rss, body, code):
    r = rss.admin.post(specs_url(rss), data=body,
                       headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == code
    assert stored_counts(rss) == (1, 0)


def test_a_spec_for_a_form_not_published_here_is_refused_404(rss):
    doc = spec_doc("other-v1")
    doc["form_id"] = "other"
    r = rss.admin.post(specs_url(rss), json=doc)
    assert r.status_code == 404 and r.json()["error"]["code"] == "form_unknown"


def test_an_unknown_spec_version_is_404(rss):
    r = rss.admin.get(specs_url(rss, "rss-v9"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "scoring_spec_unknown"


def test_records_pushed_after_publishing_are_scored_with_the_new_spec(rss):
    rss.admin.post(specs_url(rss), json=spec_doc("rss-v2"))
    rec = envelope(satisfaction_record("very_satisfied"), rss.version)
    push(rss, rss.device, [rec])
    got = rss.admin.get(f"{rss.url}/api/v1/submissions/{rec['instance_id']}").json()
    assert got["scoring_version"] == "rss-v2"
    assert got["scores"]["scores"]["composite"] == pytest.approx(0.10)
    versions = rss.admin.get(
        f"{rss.url}/api/v1/submissions/{rec['instance_id']}/scores").json()["versions"]
    assert [(v["scoring_version"], v["current"]) for v in versions] == [("rss-v2", True)]


def test_a_form_version_may_declare_a_spec_that_lives_only_in_the_store(rss):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    doc = json.loads((root / "scoring/specs/rss-v1.json").read_text())
    doc["version"] = "rss-v1-office"
    assert rss.admin.post(specs_url(rss), json=doc).status_code == 201
    form = (root / "forms/builtin/rss.md").read_text()
    form = form.replace("'rss-v1'", "'rss-v1-office'").replace(
        rss.version, "2099010101")
    r = rss.admin.post(f"{rss.url}/api/v1/forms", files={"file": ("rss.md", form.encode())})
    assert r.status_code == 201, r.text
    unknown = form.replace("'rss-v1-office'", "'rss-v9'").replace("2099010101", "2099010102")
    r = rss.admin.post(f"{rss.url}/api/v1/forms", files={"file": ("rss.md", unknown.encode())})
    assert r.status_code in (404, 422) and "rss-v9" in r.json()["error"]["message"]
