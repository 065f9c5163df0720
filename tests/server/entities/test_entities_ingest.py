"""Entities from submissions, in the ingest transaction: creates, updates, conflicts
kept for review, history, and nothing lost when the entity step fails."""

from __future__ import annotations

import uuid

import pytest

from server.entities import conflicts, lists
from server.entities.errors import EntitiesError
from server.ingest.pipeline import ingest
from server.registry.publish import builtin_rss_path, forms_publish, publish_builtin_rss
from server.scores.specs import install_builtin_specs
from server.store import entities as store
from server.store import open_db

RSS_MD = builtin_rss_path()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    database = open_db(tmp_path_factory.mktemp("entities") / "store.db", migrate=True)
    install_builtin_specs(database)
    database.version = publish_builtin_rss(database)["version"]
    yield database
    database.close()


def case() -> str:
    return f"GIN-{uuid.uuid4().hex[:8]}"


def record(db, round_: str, block: dict | None, case_id: str, *, deprecated_id=None,
           instance_id=None, **answers) -> dict:
    data = {"case_id": case_id, "survey_round": round_, "interview_date": "2026-03-02",
            "return_date": "2025-09-01", "country_of_return": "GIN", "sex": "female",
            "consent": "no", **answers}
    return {"instance_id": instance_id or f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": db.version, "deprecated_id": deprecated_id, "data": data,
            "attachments": [], "entity": block}


def block(entity_id: str, *, create=False, update=False, base="", label="", **extra) -> dict:
    return {"dataset": "returnees", "id": entity_id, "create": "1" if create else "0",
            "update": "1" if update else "0", "baseVersion": str(base), "trunkVersion": "",
            "branchId": "", "label": label, **extra}


def send(db, rec, user="enum1"):
    [result] = ingest(db, [rec], door="sync", user=user, device_id=f"dev-{user}")
    return result


def created(db, user="enum1", **answers):
    """A new returnee from a baseline record; returns (entity id, case id)."""
    entity_id, case_id = str(uuid.uuid4()), case()
    result = send(db, record(db, "baseline", block(entity_id, create=True, label=case_id),
                             case_id, **answers), user)
    assert result["entity"]["outcome"] == "created"
    return entity_id, case_id


def test_a_baseline_creates_the_returnee_assigned_to_its_enumerator_with_its_history(db):
    entity_id, case_id = created(db, sex="male")
    entity = lists.entity_get(db, "returnees", entity_id)
    assert entity["version"] == 1 and entity["label"] == case_id
    assert entity["properties"] == {"case_id": case_id, "return_date": "2025-09-01",
                                    "country_of_return": "GIN", "sex": "male"}
    assert entity["assignee"] == "enum1"
    [v1] = entity["versions"]
    assert v1["source"] == "submission" and v1["submitted_by"] == "enum1"
    assert v1["instance_id"].startswith("uuid:") and v1["changes"]["sex"] == [None, "male"]
    assert lists.list_get(db, "returnees")["key_property"] == "case_id"


def test_an_update_from_the_current_version_changes_the_entity_and_says_so(db):
    entity_id, case_id = created(db)
    result = send(db, record(db, "6m", block(entity_id, update=True, base=1, label=case_id),
                             case_id, returnee=entity_id, sex="other"))
    assert result["entity"] == {"list": "returnees", "id": entity_id, "action": "update",
                                "outcome": "updated", "version": 2}
    entity = lists.entity_get(db, "returnees", entity_id)
    assert entity["properties"]["sex"] == "other"
    assert entity["versions"][1]["changes"] == {"sex": ["female", "other"]}
    assert entity["versions"][1]["base_version"] == 1


def test_two_tablets_updating_from_the_same_version_give_one_update_and_one_conflict(db):
    entity_id, case_id = created(db)
    first = send(db, record(db, "6m", block(entity_id, update=True, base=1), case_id,
                            returnee=entity_id, sex="male"), "enum1")
    second = send(db, record(db, "6m", block(entity_id, update=True, base=1), case_id,
                             returnee=entity_id, sex="other"), "enum2")
    assert first["entity"]["outcome"] == "updated"
    assert second["entity"]["outcome"] == "conflict"
    assert second["entity"]["reason"] == "stale_base"
    assert second["status"] in ("created", "flagged")  # the record itself is stored
    entity = lists.entity_get(db, "returnees", entity_id)
    assert entity["version"] == 2 and entity["properties"]["sex"] == "male"
    [conflict] = entity["conflicts"]
    assert conflict["proposed"]["properties"]["sex"] == "other"
    assert (conflict["base_version"], conflict["current_version"]) == (1, 2)
    assert conflict["submitted_by"] == "enum2" and entity["open_conflicts"] == 1


def test_applying_a_conflict_makes_a_new_version_and_a_second_decision_is_refused(db):
    entity_id, case_id = created(db)
    send(db, record(db, "6m", block(entity_id, update=True, base=1), case_id,
                    returnee=entity_id, sex="male"))
    late = send(db, record(db, "6m", block(entity_id, update=True, base=1), case_id,
                           returnee=entity_id, return_date="2025-08-15"), "enum2")
    conflict_id = late["entity"]["conflict_id"]
    done = conflicts.conflict_resolve(db, conflict_id, "apply",
                                      properties={"return_date": "2025-08-15"}, actor="sup")
    assert done["resolution"] == "applied" and done["applied_version"] == 3
    entity = lists.entity_get(db, "returnees", entity_id)
    assert entity["properties"]["return_date"] == "2025-08-15"
    assert entity["properties"]["sex"] == "male"  # the first tablet's change stays
    assert entity["versions"][-1]["source"] == "review" and entity["open_conflicts"] == 0
    with pytest.raises(EntitiesError) as err:
        conflicts.conflict_resolve(db, conflict_id, "dismiss", actor="sup2")
    assert err.value.code == "entity_conflict_resolved"
    assert err.value.details["resolved_by"] == "sup"


def test_a_second_baseline_of_the_same_case_is_a_conflict_not_a_second_returnee(db):
    entity_id, case_id = created(db)
    other = str(uuid.uuid4())
    typed = case_id.lower().replace("-", " ")  # same case, typed differently offline
    result = send(db, record(db, "baseline", block(other, create=True), typed), "enum2")
    assert result["entity"]["outcome"] == "conflict"
    assert result["entity"]["reason"] == "key_taken"
    assert store.entity_by_uuid(db, "returnees", other) is None
    [conflict] = lists.entity_get(db, "returnees", entity_id)["conflicts"]
    assert conflict["proposed"]["action"] == "create"


def test_an_update_of_an_unknown_returnee_and_a_base_ahead_of_the_list_are_kept(db):
    ghost = str(uuid.uuid4())
    result = send(db, record(db, "6m", block(ghost, update=True, base=1), case(),
                             returnee=ghost))
    assert (result["entity"]["outcome"], result["entity"]["reason"]) == ("conflict",
                                                                          "entity_unknown")
    entity_id, case_id = created(db)
    ahead = send(db, record(db, "6m", block(entity_id, update=True, base=5), case_id))
    assert ahead["entity"]["reason"] == "base_version_unknown"
    missing = send(db, record(db, "6m", block(entity_id, update=True, base=""), case_id))
    assert missing["entity"]["reason"] == "base_version_missing"
    bad = send(db, record(db, "6m", block("not-a-uuid", update=True, base=1), case_id))
    assert bad["entity"]["reason"] == "entity_id_invalid"
    open_ids = {c["id"] for c in conflicts.conflicts_list(db, "returnees", limit=1000)[
        "conflicts"]}
    assert {r["entity"]["conflict_id"] for r in (result, ahead, missing, bad)} <= open_ids


def test_resending_a_record_changes_nothing_and_an_edit_may_redo_its_own_change(db):
    entity_id, case_id = created(db)
    rec = record(db, "6m", block(entity_id, update=True, base=1), case_id,
                 returnee=entity_id, sex="male")
    send(db, rec)
    again = send(db, rec)
    assert again["status"] == "duplicate" and "entity" not in again
    edit = record(db, "6m", block(entity_id, update=True, base=1), case_id,
                  deprecated_id=rec["instance_id"], returnee=entity_id, sex="other")
    result = send(db, edit)
    assert result["status"] == "updated" and result["entity"]["outcome"] == "updated"
    assert lists.entity_get(db, "returnees", entity_id)["version"] == 3


def test_an_offline_chain_continues_only_on_its_own_branch(db):
    entity_id, case_id = created(db)
    branch = str(uuid.uuid4())
    one = send(db, record(db, "6m", block(entity_id, update=True, base=1, trunkVersion="1",
                                          branchId=branch), case_id, sex="male"))
    two = send(db, record(db, "6m", block(entity_id, update=True, base=2, trunkVersion="1",
                                          branchId=branch), case_id, sex="other"))
    assert (one["entity"]["outcome"], two["entity"]["outcome"]) == ("updated", "updated")
    other_id, other_case = created(db)
    send(db, record(db, "6m", block(other_id, update=True, base=1), other_case, sex="male"))
    stray = send(db, record(db, "6m", block(other_id, update=True, base=2, trunkVersion="1",
                                            branchId=branch), other_case, sex="other"))
    assert stray["entity"]["reason"] == "stale_base"  # version 2 is another tablet's


def test_a_record_asking_neither_create_nor_update_leaves_the_list_alone(db):
    entity_id = str(uuid.uuid4())
    none = send(db, record(db, "baseline", block(entity_id), case()))
    assert "entity" not in none
    assert store.entity_by_uuid(db, "returnees", entity_id) is None


def test_a_record_waiting_for_its_form_version_creates_its_returnee_once_published(db):
    entity_id, case_id = str(uuid.uuid4()), case()
    rec = record(db, "baseline", block(entity_id, create=True, label=case_id), case_id)
    rec["form_version"] = "2026120799"
    waiting = send(db, rec)
    assert "form_version_unknown" in waiting["flags"] and "entity" not in waiting
    assert store.entity_by_uuid(db, "returnees", entity_id) is None
    source = RSS_MD.read_text().replace("| rss     | 2026120701 |", "| rss     | 2026120799 |")
    forms_publish(db, source.encode(), "rss.md", actor="admin")
    entity = lists.entity_get(db, "returnees", entity_id)
    assert entity["label"] == case_id and entity["versions"][0]["instance_id"] == \
        rec["instance_id"]
    kept = [c for c in conflicts.conflicts_list(db, status="all", limit=1000)["conflicts"]
            if c["instance_id"] == rec["instance_id"]]
    assert [(c["reason"], c["resolution"]) for c in kept] == [("form_version_unknown",
                                                               "applied")]


def test_when_the_entity_step_fails_the_whole_batch_is_refused_and_nothing_half_written(
        db, monkeypatch):
    recs = [record(db, "baseline", None, case()),
            record(db, "baseline", block(str(uuid.uuid4()), create=True), case())]
    before = (db.execute("SELECT count(*) FROM submissions").fetchone()[0],
              store.revision(db, "returnees"))

    def broken(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(store, "insert_version", broken)
    with pytest.raises(OSError):
        ingest(db, recs, door="sync", user="enum1", device_id="dev-x", batch_id="b1")
    monkeypatch.undo()
    after = (db.execute("SELECT count(*) FROM submissions").fetchone()[0],
             store.revision(db, "returnees"))
    assert after == before  # no record acknowledged, so the device still holds both
    results = ingest(db, recs, door="sync", user="enum1", device_id="dev-x", batch_id="b1")
    assert [r["status"] for r in results] == ["created", "created"]
    assert results[1]["entity"]["outcome"] == "created"
