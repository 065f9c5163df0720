"""Lists managed by the office: CSV import with a dry run, export, the part of a
list each tablet receives, and the hash that tells Collect when to download it."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from server.entities import imports, lists
from server.entities.errors import EntitiesError
from server.store import open_db

CASES = ("case_id,label,sex,return_date,assignee\n"
         "GIN-1,Fatou (GIN-1),female,2025-09-01,enum1\n"
         "GIN-2,Moussa (GIN-2),male,2025-10-15,enum2\n"
         "GIN-3,Awa (GIN-3),female,,\n")
ENUM1 = {"name": "enum1", "role": "enumerator"}
ENUM2 = {"name": "enum2", "role": "enumerator"}


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "store.db", migrate=True)
    yield database
    database.close()


def rows(chunks) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))


def load(db, text=CASES, **options):
    return imports.entities_import(db, "cases", text.encode(), key="case_id", **options)


def test_a_dry_run_shows_what_would_change_and_writes_nothing(db):
    preview = load(db)
    assert (preview["dry_run"], preview["created"], preview["updated"]) == (True, 3, 0)
    assert preview["changes"][0]["changes"]["sex"] == [None, "female"]
    assert db.execute("SELECT count(*) FROM entities").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM entity_lists").fetchone()[0] == 0


def test_an_import_then_a_changed_file_shows_and_applies_only_the_changes(db):
    assert load(db, dry_run=False)["created"] == 3
    assert load(db)["unchanged"] == 3
    changed = CASES.replace("GIN-2,Moussa (GIN-2),male,2025-10-15,enum2",
                            "gin 2,Moussa (GIN-2),male,2025-10-20,enum1")
    changed = changed.replace("GIN-3,Awa (GIN-3),female,,", "GIN-3,Awa (GIN-3),,2025-11-30,")
    preview = load(db, changed)
    assert (preview["created"], preview["updated"], preview["unchanged"]) == (0, 2, 1)
    by_row = {c["row"]: c["changes"] for c in preview["changes"]}
    # the key matches GIN-2 whatever its case and punctuation; case_id follows the file
    assert by_row[3] == {"case_id": ["GIN-2", "gin 2"],
                         "return_date": ["2025-10-15", "2025-10-20"],
                         "assignee": ["enum2", "enum1"]}
    assert by_row[4] == {"return_date": [None, "2025-11-30"]}  # an empty cell changes nothing
    load(db, changed, dry_run=False, actor="office")
    entity = next(r for r in rows(lists.list_export(db, "cases")) if r["label"] == "Awa (GIN-3)")
    assert (entity["sex"], entity["return_date"], entity["__version"]) == ("female",
                                                                           "2025-11-30", "2")
    history = lists.entity_get(db, "cases", entity["name"])["versions"]
    assert [v["source"] for v in history] == ["import", "import"]
    assert history[1]["actor"] == "office"


@pytest.mark.parametrize(("text", "row", "column"), [
    ("name,case_id,label\nnot-a-uuid,GIN-5,X\n", 2, "name"),
    ("case_id,label\nGIN-1,A\ngin-1,B\n", 3, "case_id"),
    ("case_id,label\nGIN-9,\n", 2, "label"),
    ("case_id,label,bad name\nGIN-9,A,x\n", 1, "bad name"),
])
def test_a_file_with_a_bad_row_imports_nothing_and_names_the_row(db, text, row, column):
    load(db, "case_id,label\nGIN-0,fine\n", dry_run=False)  # the list exists
    with pytest.raises(EntitiesError) as err:
        imports.entities_import(db, "cases", text.encode(), key="case_id", dry_run=False)
    assert err.value.code == "import_invalid"
    assert (err.value.details["errors"][0]["row"],
            err.value.details["errors"][0]["column"]) == (row, column)
    assert [r["case_id"] for r in rows(lists.list_export(db, "cases"))] == ["GIN-0"]


def test_each_tablet_receives_its_own_cases_and_the_unassigned_ones(db):
    load(db, dry_run=False)
    labels = {who["name"]: sorted(r["label"] for r in rows(
        lists.stream_csv(db, "cases", lists.visible_to(db, who)))) for who in (ENUM1, ENUM2)}
    assert labels == {"enum1": ["Awa (GIN-3)", "Fatou (GIN-1)"],
                      "enum2": ["Awa (GIN-3)", "Moussa (GIN-2)"]}
    supervisor = rows(lists.stream_csv(db, "cases", lists.visible_to(
        db, {"name": "sup", "role": "supervisor"})))
    assert len(supervisor) == 3 and list(supervisor[0]) == [
        "name", "label", "__version", "case_id", "sex", "return_date"]


def test_a_case_assigned_to_a_team_reaches_every_member(db):
    load(db, CASES.replace("GIN-2,Moussa (GIN-2),male,2025-10-15,enum2",
                           "GIN-2,Moussa (GIN-2),male,2025-10-15,north"), dry_run=False)
    lists.team_set(db, "north", ["enum1", "enum3"])
    mine = {r["label"] for r in rows(lists.stream_csv(db, "cases", lists.visible_to(db, ENUM1)))}
    assert "Moussa (GIN-2)" in mine
    theirs = {r["label"] for r in rows(lists.stream_csv(db, "cases",
                                                        lists.visible_to(db, ENUM2)))}
    assert theirs == {"Awa (GIN-3)"}


def test_the_list_hash_changes_when_the_list_or_the_part_received_changes(db):
    load(db, dry_run=False)
    first = lists.list_hash(db, "any", "cases", lists.visible_to(db, ENUM1))
    assert lists.list_hash(db, "any", "cases", lists.visible_to(db, ENUM1)) == first
    assert lists.list_hash(db, "any", "cases", lists.visible_to(db, ENUM2)) != first
    load(db, dry_run=False)  # nothing changes: the same hash
    assert lists.list_hash(db, "any", "cases", lists.visible_to(db, ENUM1)) == first
    load(db, CASES.replace("2025-09-01", "2025-09-02"), dry_run=False)
    assert lists.list_hash(db, "any", "cases", lists.visible_to(db, ENUM1)) != first


def test_an_exported_list_imports_back_unchanged(db):
    load(db, dry_run=False)
    exported = b"".join(lists.list_export(db, "cases"))
    again = imports.entities_import(db, "cases", exported, dry_run=True)
    assert (again["unchanged"], again["created"], again["updated"]) == (3, 0, 0)


def test_a_list_name_that_is_not_a_name_is_refused(db):
    with pytest.raises(EntitiesError) as err:
        imports.entities_import(db, "../etc", CASES.encode())
    assert err.value.code == "list_name_invalid"
    with pytest.raises(EntitiesError) as err:
        lists.entity_get(db, "cases", str(uuid.uuid4()))
    assert err.value.code == "list_unknown"
