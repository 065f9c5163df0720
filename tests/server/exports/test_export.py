"""Exports: every version in one column set, scores/flags/origin, filters, repeats,
the three formats and the incremental cursor; in process against a real store."""

from __future__ import annotations

import csv
import io
import json
import threading

import pytest
from openpyxl import load_workbook

from server.app import create_app
from server.exports.stream import ExportOptions, export_plan, stream
from server.store import open_db
from server.store import submissions as subs_q
from tests.helpers.forwarding import ingest_at_office, office_store, rss_records, rss_version

FIXTURE_FORM = "tests/fixtures/household.md"


@pytest.fixture
def store(tmp_path):
    db = office_store(tmp_path / "office.db")
    db.path = tmp_path / "office.db"
    yield db
    db.close()


def export_text(db, form_id="rss", fmt="csv", **options) -> tuple[bytes, int]:
    plan = export_plan(db, form_id, ExportOptions(**options), fmt)
    return b"".join(stream(db, plan, fmt)), plan.next


def parse_csv(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_csv_round_trip_matches_the_store(store):
    ingest_at_office(store, rss_records(40, rss_version(store)))
    body, nxt = export_text(store)
    rows = parse_csv(body)
    held = {r["instance_id"]: r for r in subs_q.changes(store, 0, 10**6)}
    assert len(rows) == 40 and nxt == subs_q.max_seq(store)
    for row in rows:
        rec = held[row["instance_id"]]
        assert row["econ/econ_satisfaction"] == rec["data"]["econ"]["econ_satisfaction"]
        assert row["case_id"] == rec["data"]["case_id"]
        assert float(row["score_composite"]) == pytest.approx(
            rec["scores"]["scores"]["composite"])
        assert row["scoring_version"] == rec["scoring_version"]
        assert row["office"] == "gin-conakry" and row["enumerator"] == "enum"
        assert row["review_state"] == rec["review_state"]
        assert row["flags"] == " ".join(rec["flags"])


def test_select_multiple_is_also_split_into_one_column_per_choice(store):
    ingest_at_office(store, rss_records(6, rss_version(store)))
    for row in parse_csv(export_text(store)[0]):
        picked = set(row["econ/productive_assets"].split())
        assert row["econ/productive_assets/land"] == ("1" if "land" in picked else "0")
        assert row["econ/productive_assets/none"] == ("1" if "none" in picked else "0")


def test_jsonl_and_xlsx_hold_the_same_rows_as_csv(store):
    ingest_at_office(store, rss_records(25, rss_version(store)))
    as_csv = parse_csv(export_text(store)[0])
    as_jsonl = [json.loads(line) for line in export_text(store, fmt="jsonl")[0].splitlines()]
    wb = load_workbook(io.BytesIO(export_text(store, fmt="xlsx")[0]), read_only=True)
    sheet = list(wb.active.iter_rows(values_only=True))
    headers = list(sheet[0])
    assert headers == list(as_csv[0].keys()) == list(as_jsonl[0].keys())
    assert [r["instance_id"] for r in as_jsonl] == [r["instance_id"] for r in as_csv]
    assert [r[headers.index("instance_id")] for r in sheet[1:]] == \
        [r["instance_id"] for r in as_csv]
    i = headers.index("score_composite")
    assert [r[i] for r in sheet[1:]] == [r["score_composite"] for r in as_jsonl]


def test_filters_on_country_round_dates_review_and_office(store):
    version = rss_version(store)
    records = rss_records(10, version)
    for i, rec in enumerate(records):
        rec["data"]["country_of_return"] = "SEN" if i < 3 else "GIN"
        rec["data"]["survey_round"] = "12m" if i % 2 else "6m"
    ingest_at_office(store, records)
    assert len(parse_csv(export_text(store, country="SEN")[0])) == 3
    assert len(parse_csv(export_text(store, round="12m")[0])) == 5
    assert len(parse_csv(export_text(store, date_from="2026-03-02",
                                     date_to="2026-03-02")[0])) == 10
    assert parse_csv(export_text(store, date_from="2026-03-03")[0]) == []
    assert len(parse_csv(export_text(store, date_field="received_at",
                                     date_from="2000-01-01")[0])) == 10
    assert len(parse_csv(export_text(store, office="gin-conakry")[0])) == 10
    assert parse_csv(export_text(store, review_state="approved")[0]) == []


def test_only_current_versions_unless_all_are_asked_for(store):
    first = rss_records(1, rss_version(store), seed=4)[0]
    ingest_at_office(store, [first])
    edit = {**first, "instance_id": "uuid:edit-0000-0002",
            "deprecated_id": first["instance_id"]}
    ingest_at_office(store, [edit])
    assert [r["instance_id"] for r in parse_csv(export_text(store)[0])] == [edit["instance_id"]]
    everything = parse_csv(export_text(store, include_all=True)[0])
    assert {r["state"] for r in everything} == {"current", "superseded"}


def test_incremental_pulls_never_skip_or_repeat_while_ingest_runs(store):
    version = rss_version(store)
    stop = threading.Event()

    def ingest_loop():
        db = open_db(store.path)
        i = 0
        while not stop.is_set() and i < 60:
            ingest_at_office(db, rss_records(5, version, seed=1000 + i))
            i += 1
        db.close()

    writer = threading.Thread(target=ingest_loop)
    writer.start()
    seen, since = [], 0
    reader = open_db(store.path)
    try:
        while writer.is_alive() or since < subs_q.max_seq(reader):
            body, since = export_text(reader, since=since)
            seen += [r["instance_id"] for r in parse_csv(body)]
    finally:
        stop.set()
        writer.join()
        reader.close()
    held = [r[0] for r in store.execute("SELECT instance_id FROM submissions")]
    assert len(seen) == len(set(seen)), "a record was exported twice"
    assert set(seen) == set(held), "a record was skipped"


def test_repeats_export_as_their_own_table(tmp_path):
    from server.registry.publish import forms_publish
    from server.ops.serve import prepare_store
    from tests.helpers.records import household_record

    prepare_store(str(tmp_path / "h.db"))
    db = open_db(tmp_path / "h.db")
    forms_publish(db, open(FIXTURE_FORM, "rb").read(), "household.md")
    version = db.execute("SELECT current_version FROM forms WHERE form_id='tform'").fetchone()
    rec = household_record(version=version[0])
    ingest_at_office(db, [rec])
    body = b"".join(stream(db, export_plan(db, "tform", ExportOptions(repeat="members")),
                           "csv"))
    rows = parse_csv(body)
    assert [r["_index"] for r in rows] == ["1", "2"]
    assert rows[0]["instance_id"] == rec["instance_id"]
    assert rows[1]["members/m_age"] == "40"


def test_http_export_streams_with_the_next_cursor_header(store):
    ingest_at_office(store, rss_records(7, rss_version(store)))
    from server.accounts.users import token_create, user_add
    user_add(store, "ana", "analyst")
    token = token_create(store, "ana")
    app = create_app({"DATABASE": str(store.path)})
    client = app.test_client()
    resp = client.get("/api/v1/forms/rss/submissions?format=jsonl",
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert int(resp.headers["X-Fieldsync-Next"]) == subs_q.max_seq(store)
    assert len(resp.get_data().splitlines()) == 7
    later = client.get(f"/api/v1/forms/rss/submissions?since={resp.headers['X-Fieldsync-Next']}",
                       headers={"Authorization": f"Bearer {token}"})
    assert later.get_data().decode().strip().count("\n") == 0  # header only
    bad = client.get("/api/v1/forms/rss/submissions?format=pdf",
                     headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_request"


def test_unanswered_select_multiple_leaves_its_choice_columns_empty(store):
    ingest_at_office(store, rss_records(3, rss_version(store)))
    ids = [r[0] for r in store.execute("SELECT submission_id FROM answers__rss ORDER BY 1")]
    store.execute('UPDATE answers__rss SET "econ/productive_assets" = NULL '
                  "WHERE submission_id = ?", [ids[0]])
    store.execute('UPDATE answers__rss SET "econ/productive_assets" = ? '
                  "WHERE submission_id = ?", ["landline tools_equipment", ids[1]])
    store.conn.commit()
    first, second, _ = parse_csv(export_text(store)[0])
    assert first["econ/productive_assets"] == ""
    assert first["econ/productive_assets/land"] == first["econ/productive_assets/none"] == ""
    assert second["econ/productive_assets/land"] == "0"  # whole choice names only
    assert second["econ/productive_assets/tools_equipment"] == "1"
    as_jsonl = [json.loads(line) for line in export_text(store, fmt="jsonl")[0].splitlines()]
    assert as_jsonl[0]["econ/productive_assets/land"] is None
    assert as_jsonl[1]["econ/productive_assets/land"] == 0


def test_jsonl_lines_are_json_dumps_of_each_row_even_with_awkward_text(store):
    ingest_at_office(store, rss_records(4, rss_version(store)))
    awkward = 'a "quoted", back\\slash\nnew line\x00nul\ttab \u00e9 \U0001F600 \u2028'
    store.execute("UPDATE answers__rss SET case_id = ?", [awkward])
    store.conn.commit()
    plan = export_plan(store, "rss", ExportOptions())
    expected = [json.dumps(dict(zip(plan.headers, row)), ensure_ascii=False)
                for row in plan.rows.fetchall()]
    store.execute("COMMIT")
    body = export_text(store, fmt="jsonl")[0].decode("utf-8")
    assert body == "".join(line + "\n" for line in expected)
    assert [r["case_id"] for r in parse_csv(export_text(store)[0])] == [awkward] * 4
