"""The typo rule's keys (server/dedup/typo_map.py), held in memory or read from
the store: they find what the store holds, whoever wrote it, and nothing a
rolled-back batch wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from server.dedup import keys, typo_map
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.store import open_db
from server.store.db import write_transaction
from tests.helpers.rss_records import BEST, build

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def rss(db):
    db.version = publish_builtin_rss(db)["version"]
    return db


def record(db, case_id, day, **changes):
    data = build(BEST, case_id=case_id, interview_date=day, **changes)
    return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
            "form_version": db.version, "data": data}


def push(db, *recs, device="tablet-1", user="enum1"):
    return ingest(db, list(recs), door="sync", device_id=device, user=user)


@pytest.fixture(params=["map", "store"])
def held(request, monkeypatch):
    """How a push reads the keys it asks about: from weeks of the map (a push
    spanning weeks), or from the store, one record's window at a time (a push
    spanning more than ``WIDE_PUSH_WEEKS``: here, every push)."""
    if request.param == "store":
        monkeypatch.setattr(typo_map, "WIDE_PUSH_WEEKS", 0)
    return request.param


def typo_reasons(db, instance_id):
    rows = db.execute(
        "SELECT m.reasons FROM duplicate_matches m JOIN submissions s ON s.id = m.submission_id "
        "WHERE s.instance_id = ?", [instance_id]).fetchall()
    return [r for row in rows for r in json.loads(row[0]) if r["rule"] == "case_id_typo"]


def test_a_typo_of_a_record_another_process_stored_is_found(rss, held, tmp_path):
    push(rss, record(rss, "GIN-2026-00500", "2026-02-10"))  # this process reads the week
    script = (
        "import sys, uuid; sys.path.insert(0, sys.argv[1])\n"
        "from server.ingest.pipeline import ingest\n"
        "from server.store import open_db\n"
        "from tests.helpers.rss_records import BEST, build\n"
        "db = open_db(sys.argv[2])\n"
        "data = build(BEST, case_id='GIN-2026-00017', interview_date='2026-02-11')\n"
        "rec = {'instance_id': f'uuid:{uuid.uuid4()}', 'form_id': 'rss',\n"
        "       'form_version': sys.argv[3], 'data': data}\n"
        "print(ingest(db, [rec], door='sync', device_id='tablet-2', user='enum2')[0]['status'])\n"
    )
    other = subprocess.run([sys.executable, "-c", script, str(ROOT),
                            str(tmp_path / "store.db"), rss.version],
                           capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == "created", other.stderr
    typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert [r["keys"] for r in typo_reasons(rss, typo["instance_id"])] == \
        [["GIN202600071", "GIN202600017"]]


def test_a_rolled_back_batch_leaves_no_key_behind(rss, held, monkeypatch):
    from server.scores import rescore
    push(rss, record(rss, "GIN-2026-00900", "2026-02-10"))  # the week is read
    original = rescore.record_scores
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(rescore, "record_scores", fail_on_second)
    with pytest.raises(OSError):
        push(rss, record(rss, "GIN-2026-00017", "2026-02-11"),
             record(rss, "GIN-2026-00018", "2026-02-11", has_debt="yes"))
    monkeypatch.undo()
    assert rss.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert typo["status"] == "created" and typo_reasons(rss, typo["instance_id"]) == []


def test_keys_written_earlier_in_the_same_transaction_are_found(rss, held):
    push(rss, record(rss, "GIN-2026-00900", "2026-02-10"))
    with write_transaction(rss):  # two batches, one outer transaction
        push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))
        typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                    user="enum9")[0]
    assert len(typo_reasons(rss, typo["instance_id"])) == 1


def test_keys_of_an_outer_transaction_that_rolled_back_are_not_found(rss, held):
    push(rss, record(rss, "GIN-2026-00900", "2026-02-10"))  # the week is read
    with pytest.raises(RuntimeError):
        with write_transaction(rss):  # a push inside a caller's transaction ...
            push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))
            raise RuntimeError("the caller gives up")  # ... which rolls back
    assert rss.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    # The next record takes the rolled-back one's submission id; without a
    # case id it has no key that would replace the lost one's.
    push(rss, record(rss, "", "2026-02-11"))
    typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert typo["status"] == "created" and typo_reasons(rss, typo["instance_id"]) == []


def test_a_batch_finds_typos_among_its_own_records(rss, held):
    first, typo = push(rss, record(rss, "GIN-2026-00017", "2026-02-11"),
                       record(rss, "GIN-2026-00071", "2026-02-12"))
    assert len(typo_reasons(rss, typo["instance_id"])) == 1


def test_beyond_its_bound_the_map_drops_weeks_and_reads_them_again(rss, monkeypatch):
    monkeypatch.setattr(typo_map, "MAP_KEYS", 2)
    for n, day in enumerate(["2026-01-05", "2026-02-10", "2026-03-20", "2026-05-02"]):
        push(rss, record(rss, f"GIN-2026-0{n}100", day))
    store = typo_map._MAP
    assert store.size <= 2 + 4  # the weeks of the last lookup are kept
    typo = push(rss, record(rss, "GIN-2026-01101", "2026-02-11"), device="tablet-9",
                user="enum9")[0]  # one edit from GIN-2026-01100 (the second)
    assert len(typo_reasons(rss, typo["instance_id"])) == 1


def test_a_store_replaced_under_the_same_path_is_read_afresh(rss, held, tmp_path):
    spare = tmp_path / "spare.db"
    rss.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(tmp_path / "store.db", spare)  # published form, no records
    push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))
    rss.close()
    (tmp_path / "store.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "store.db") + suffix).unlink(missing_ok=True)
    shutil.copy(spare, tmp_path / "store.db")
    db = open_db(tmp_path / "store.db", migrate=True)
    db.version = rss.version
    typo = push(db, record(db, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert typo["status"] == "created" and typo_reasons(db, typo["instance_id"]) == []
    db.close()


def test_a_store_without_a_file_finds_typos_too():
    db = open_db(":memory:", migrate=True)
    db.version = publish_builtin_rss(db)["version"]
    push(db, record(db, "GIN-2026-00017", "2026-02-11"))
    typo = push(db, record(db, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert len(typo_reasons(db, typo["instance_id"])) == 1
    assert type(typo_map.session(db)) is typo_map.StoreReads


def test_a_push_spanning_years_loaded_into_the_map_keeps_it_within_its_bound(
        rss, monkeypatch):
    monkeypatch.setattr(typo_map, "MAP_KEYS", 3)
    monkeypatch.setattr(typo_map, "WIDE_PUSH_WEEKS", 10**6)  # read into the map anyway
    old = [record(rss, f"GIN-2026-{n:03d}00", f"20{20 + n // 12}-{n % 12 + 1:02d}-10")
           for n in range(24)]  # two years, one interview a month
    push(rss, *old)
    typos = [record(rss, f"GIN-2026-{n:03d}01", f"20{20 + n // 12}-{n % 12 + 1:02d}-11")
             for n in (23, 0, 12)]  # one edit from three of them, in no order
    results = push(rss, *typos, device="tablet-9", user="enum9")
    assert [len(typo_reasons(rss, r["instance_id"])) for r in results] == [1, 1, 1]
    store = typo_map._MAP
    assert store.size <= 3 + 5  # the bound, beyond it one lookup's weeks at most


def test_a_neighbour_with_no_answer_in_common_is_ruled_out_without_error():
    variants = tuple(keys.deletion_variants("GIN202600017"))
    # min_compared 0 (allowed): the summary check meets zero fields both answered
    probe = typo_map.Probe(variants, 0, 100, 10, 7, (0b0101, 0), 0, 0.8, "GIN202600017")
    key = (42, "GIN202600071", 50, 7, 0b1010, 0)  # answered other fields only
    in_map, from_store = {}, {}
    weeks = typo_map._Weeks()
    weeks.add(key)
    weeks.find(probe, in_map)
    typo_map._keep([key], probe, from_store)
    assert in_map == from_store == {}


def test_the_map_keeps_the_neighbours_whose_summaries_the_store_read_keeps():
    # The map (_Weeks.find) and the store's read (_keep) each apply the bound
    # and the summary check: both must keep the same neighbours.
    import random

    rng = random.Random(5)
    person = "GIN202600017"
    near = sorted(keys.deletion_variants(person) - {person})
    for trial in range(300):
        summary = None if trial % 10 == 0 else (rng.getrandbits(64) - (1 << 63),
                                                 rng.getrandbits(64) - (1 << 63))
        minimum, threshold = rng.choice([0, 3, 8]), rng.choice([0.0, 0.6, 0.9])
        probe = typo_map.Probe(tuple(keys.deletion_variants(person)), 0, 100, 50, 7,
                                 summary, minimum, threshold, person)
        neighbours = []
        for sid in range(1, 30):
            answered = None if sid % 9 == 0 else rng.getrandbits(64) & rng.getrandbits(64)
            sketch = rng.getrandbits(64) - (1 << 63)
            if summary is not None and sid % 3 == 0:  # close to the probe's answers
                answered, sketch = summary[0] & ((1 << 64) - 1), summary[1] ^ (1 << sid)
            neighbours.append((sid, rng.choice(near), rng.randrange(-20, 120),
                         7 if sid % 7 else 8, answered, sketch))
        weeks = typo_map._Weeks()
        for key in neighbours:
            weeks.add(key)
        in_map, from_store = {}, {}
        weeks.find(probe, in_map)
        typo_map._keep(sorted((k for k in neighbours if 0 <= k[2] <= 100), key=lambda k: -k[0]),
                         probe, from_store)
        assert in_map == from_store, trial


def test_a_push_spanning_many_weeks_is_read_from_the_store_not_loaded_into_the_map(
        rss, monkeypatch):
    typo_map.forget()
    old = [record(rss, f"GIN-2026-{n:03d}00", f"20{20 + n // 12}-{n % 12 + 1:02d}-10")
           for n in range(24)]  # two years, one interview a month
    push(rss, *old)
    typos = [record(rss, f"GIN-2026-{n:03d}01", f"20{20 + n // 12}-{n % 12 + 1:02d}-11")
             for n in (23, 0, 12)]  # one edit from three of them, in no order
    monkeypatch.setattr(typo_map, "WIDE_PUSH_WEEKS", 10)  # their windows span 15 weeks
    results = push(rss, *typos, device="tablet-9", user="enum9")
    assert [len(typo_reasons(rss, r["instance_id"])) for r in results] == [1, 1, 1]
    assert typo_map._MAP is None  # no week was loaded for either push


def test_what_no_push_asked_about_for_a_while_is_let_go_and_read_again(rss, monkeypatch):
    monkeypatch.setattr(typo_map, "IDLE_PUSHES", 2)
    push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))
    store = typo_map._MAP
    assert any(m[2] * typo_map.WEEK < 20_600 for m in store.loaded)  # February's weeks
    for n in range(4):  # pushes of other weeks, and of another round
        push(rss, record(rss, f"GIN-2026-0{n}900", "2026-09-01", survey_round="12m"))
    february = [m for m in store.loaded if m[2] * typo_map.WEEK < 20_600]
    assert february == []
    typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert len(typo_reasons(rss, typo["instance_id"])) == 1
