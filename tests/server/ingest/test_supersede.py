"""Who may supersede a record: its author, a supervisor or admin, or the peer that
forwarded it. Anyone else's edit is stored and flagged as a conflict for review,
never applied: the record stays as its author sent it."""

from __future__ import annotations

import csv
import io

import pytest

from tests.helpers.accounts import Site, basic_header, cheap_password_hashes
from tests.helpers.records import batch, household_record

PASSWORD = "edit-pass-1234"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with cheap_password_hashes():
        site = Site(tmp_path_factory.mktemp("supersede"))
        site.tokens = {name: site.add(name, role, PASSWORD) for name, role in (
            ("author", "enumerator"), ("other", "enumerator"), ("boss", "supervisor"))}
        yield site


def push(site, who, record):
    r = site.call("POST", "/api/v1/sync/push", token=site.tokens[who], json=batch([record]))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["results"][0]


def exported_cases(site) -> list[str]:
    r = site.call("GET", "/api/v1/forms/tform/submissions", token=site.admin_token,
                  query_string={"format": "csv"})
    return sorted(row["case_id"] for row in csv.DictReader(io.StringIO(r.get_data(as_text=True))))


def test_another_enumerators_edit_is_kept_as_a_conflict_and_not_applied(site):
    original = push(site, "author", household_record("BY-AUTHOR"))
    edit = household_record("BY-OTHER", deprecated_id=original["instance_id"])
    result = push(site, "other", edit)
    assert result["status"] == "conflict" and "edit_unauthorized" in result["flags"]
    held = site.call("GET", f"/api/v1/submissions/{original['instance_id']}",
                     token=site.admin_token).get_json()
    assert held["state"] == "current" and held["data"]["case_id"] == "BY-AUTHOR"
    assert "BY-AUTHOR" in exported_cases(site) and "BY-OTHER" not in exported_cases(site)
    queue = site.call("GET", "/api/v1/review/queue?kind=conflicts",
                      token=site.admin_token).get_json()["items"]
    assert edit["instance_id"] in {item["instance_id"] for item in queue}


def test_the_author_and_a_supervisor_may_edit(site):
    original = push(site, "author", household_record("FIRST"))
    own = household_record("SECOND", deprecated_id=original["instance_id"])
    assert push(site, "author", own)["status"] == "updated"
    by_boss = household_record("THIRD", deprecated_id=own["instance_id"])
    assert push(site, "boss", by_boss)["status"] == "updated"
    again = household_record("FOURTH", deprecated_id=by_boss["instance_id"])
    assert push(site, "author", again)["status"] == "updated"  # still the record's author
    assert "FOURTH" in exported_cases(site) and "THIRD" not in exported_cases(site)


def test_an_openrosa_edit_by_another_account_is_409_and_says_why(site):
    original = push(site, "author", household_record("OR-AUTHOR"))
    xml = (f'<data id="tform" version="2026112901"><case_id>OR-OTHER</case_id>'
           f'<meta><instanceID>uuid:5d0b8f0e-4a56-4c3b-9d7e-1f2a3b4c5d6e</instanceID>'
           f'<deprecatedID>{original["instance_id"]}</deprecatedID></meta></data>').encode()
    r = site.call("POST", "/submission", auth=basic_header("other", PASSWORD),
                  data={"xml_submission_file": (io.BytesIO(xml), "s.xml", "text/xml")})
    assert r.status_code == 409
    assert b"may not change" in r.get_data()
    held = site.call("GET", f"/api/v1/submissions/{original['instance_id']}",
                     token=site.admin_token).get_json()
    assert held["state"] == "current" and held["data"]["case_id"] == "OR-AUTHOR"
