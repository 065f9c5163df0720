"""The typo rule's in-memory map (server/dedup/typo.py): it finds what the store
holds, whoever wrote it, and nothing a rolled-back batch wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from server.dedup import typo as dedup_typo
from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.store import open_db
from server.store.db import write_transaction
from tests.scoring.rss_records import BEST, build

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


@pytest.fixture(params=["weeks", "days"])
def held(request, monkeypatch):
    """How the process holds the keys a push asks about: weeks of the variant
    map (a push spanning weeks), or every key of the round in day order (a push
    spanning more than ``WIDE_BATCH_WEEKS``: here, every push)."""
    if request.param == "days":
        monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 0)
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
        "from tests.scoring.rss_records import BEST, build\n"
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
    monkeypatch.setattr(dedup_typo, "MAX_KEYS", 2)
    for n, day in enumerate(["2026-01-05", "2026-02-10", "2026-03-20", "2026-05-02"]):
        push(rss, record(rss, f"GIN-2026-0{n}100", day))
    store = dedup_typo._STORES[dedup_typo._file_of(rss)]
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
    assert isinstance(dedup_typo.session(db), dedup_typo.Direct)


def test_a_push_spanning_years_keeps_the_map_within_its_bound(rss, monkeypatch):
    monkeypatch.setattr(dedup_typo, "MAX_KEYS", 3)
    old = [record(rss, f"GIN-2026-{n:03d}00", f"20{20 + n // 12}-{n % 12 + 1:02d}-10")
           for n in range(24)]  # two years, one interview a month
    push(rss, *old)
    typos = [record(rss, f"GIN-2026-{n:03d}01", f"20{20 + n // 12}-{n % 12 + 1:02d}-11")
             for n in (23, 0, 12)]  # one edit from three of them, in no order
    results = push(rss, *typos, device="tablet-9", user="enum9")
    assert [len(typo_reasons(rss, r["instance_id"])) for r in results] == [1, 1, 1]
    store = dedup_typo._STORES[dedup_typo._file_of(rss)]
    assert store.size <= 3 + 5  # the bound, beyond it one lookup's weeks at most



def test_a_neighbour_with_no_answer_in_common_is_ruled_out_without_error():
    from server.dedup import rules as dup
    variants = tuple(dup.deletion_variants("GIN202600017"))
    # min_compared 0 (allowed): the summary check meets zero fields both answered
    probe = dedup_typo.Probe(variants, 0, 100, 10, 7, (0b0101, 0), 0, 0.8, "GIN202600017")
    key = (42, "GIN202600071", 50, 7, 0b1010, 0)  # answered other fields only
    in_map, from_store = {}, {}
    weeks = dedup_typo._Weeks()
    weeks.add(key)
    weeks.find(probe, in_map)
    dedup_typo._keep([key], probe, from_store)
    assert in_map == from_store == {}


def test_the_map_keeps_the_neighbours_whose_summaries_the_store_read_keeps():
    # _Weeks.find makes the summary check in its own loop; the store's read
    # (_keep) through dup.kept_by_summary: both must keep the same neighbours.
    import random

    from server.dedup import rules as dup
    rng = random.Random(5)
    person = "GIN202600017"
    near = sorted(dup.deletion_variants(person) - {person})
    for trial in range(300):
        summary = None if trial % 10 == 0 else (rng.getrandbits(64) - (1 << 63),
                                                 rng.getrandbits(64) - (1 << 63))
        minimum, threshold = rng.choice([0, 3, 8]), rng.choice([0.0, 0.6, 0.9])
        probe = dedup_typo.Probe(tuple(dup.deletion_variants(person)), 0, 100, 50, 7,
                                 summary, minimum, threshold, person)
        keys = []
        for sid in range(1, 30):
            answered = None if sid % 9 == 0 else rng.getrandbits(64) & rng.getrandbits(64)
            sketch = rng.getrandbits(64) - (1 << 63)
            if summary is not None and sid % 3 == 0:  # close to the probe's answers
                answered, sketch = summary[0] & ((1 << 64) - 1), summary[1] ^ (1 << sid)
            keys.append((sid, rng.choice(near), rng.randrange(-20, 120),
                         7 if sid % 7 else 8, answered, sketch))
        weeks = dedup_typo._Weeks()
        for key in keys:
            weeks.add(key)
        in_map, from_store = {}, {}
        weeks.find(probe, in_map)
        dedup_typo._keep(sorted((k for k in keys if 0 <= k[2] <= 100), key=lambda k: -k[0]),
                         probe, from_store)
        assert in_map == from_store, trial


def test_a_batch_handed_over_at_commit_leaves_the_map_as_adding_its_keys_one_by_one():
    # Session.committed merges a batch's own map into the shared one
    # (_Weeks.merge): the result must be what adding each key would give, down
    # to the order of the keys sharing a variant (the newest are read first).
    import random
    rng = random.Random(3)
    for trial in range(40):
        def dense():  # sequential case ids: many share deletion variants
            return f"GIN2026{rng.randrange(0, 400):05d}"
        held = [(sid, dense(), rng.randrange(0, 60), 7, None, None) for sid in range(1, 200)]
        own_keys = [(sid, dense(), rng.randrange(0, 60), 7, None, None)
                    for sid in range(200, 200 + rng.randrange(1, 120))]
        one_by_one, merged, own = dedup_typo._Weeks(), dedup_typo._Weeks(), dedup_typo._Weeks()
        for key in held:
            one_by_one.add(key)
            merged.add(key)
        for key in own_keys:
            own.add(key)
        for key in rng.sample(own_keys, len(own_keys) // 4):  # written again in the batch
            own.remove(key[0])
            own.add((key[0], dense(), key[2], 7, None, None))
        for key, variants in list(own.keys.values()):
            one_by_one.add(key, variants)
        merged.merge(own)
        assert merged.variants == one_by_one.variants, trial
        assert merged.keys == one_by_one.keys and merged.by_week == one_by_one.by_week


def test_a_round_with_more_keys_than_it_holds_is_read_from_the_store(rss, monkeypatch):
    monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 0)
    monkeypatch.setattr(dedup_typo, "MAX_ROUND_KEYS", 2)
    push(rss, *[record(rss, f"GIN-2026-00{n}00", "2026-02-10") for n in (1, 2, 3)])
    typo = push(rss, record(rss, "GIN-2026-00201", "2026-02-11"), device="tablet-9",
                user="enum9")[0]  # one edit from GIN-2026-00200
    assert len(typo_reasons(rss, typo["instance_id"])) == 1
    store = dedup_typo._STORES[dedup_typo._file_of(rss)]
    assert store.rounds == {} and store.too_many


def test_what_no_push_asked_about_for_a_while_is_let_go_and_read_again(rss, held, monkeypatch):
    monkeypatch.setattr(dedup_typo, "IDLE_BATCHES", 2)
    monkeypatch.setattr(dedup_typo, "IDLE_ROUND_BATCHES", 2)
    monkeypatch.setattr(dedup_typo, "SWEEP_EVERY", 1)
    push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))
    for n in range(4):  # pushes of other weeks, and of another round
        push(rss, record(rss, f"GIN-2026-0{n}900", "2026-09-01", survey_round="12m"))
    store = dedup_typo._STORES[dedup_typo._file_of(rss)]
    february = [m for m in store.loaded if m[2] * dedup_typo.WEEK < 20_600]
    assert february == [] and len(store.rounds) <= 1
    typo = push(rss, record(rss, "GIN-2026-00071", "2026-02-12"), device="tablet-9",
                user="enum9")[0]
    assert len(typo_reasons(rss, typo["instance_id"])) == 1


def test_a_round_held_in_day_order_outlives_idle_weeks(rss, monkeypatch):
    monkeypatch.setattr(dedup_typo, "IDLE_BATCHES", 2)
    monkeypatch.setattr(dedup_typo, "IDLE_ROUND_BATCHES", 6)
    monkeypatch.setattr(dedup_typo, "SWEEP_EVERY", 1)
    push(rss, record(rss, "GIN-2026-00017", "2026-02-11"))  # weeks of the map
    monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 0)
    push(rss, record(rss, "GIN-2026-00018", "2026-02-11"))  # the round in day order
    monkeypatch.setattr(dedup_typo, "WIDE_BATCH_WEEKS", 40)
    for n in range(3):  # pushes of another round's weeks
        push(rss, record(rss, f"GIN-2026-0{n}900", "2026-09-01", survey_round="12m"))
    store = dedup_typo._STORES[dedup_typo._file_of(rss)]
    first = build(BEST)["survey_round"].upper()  # the first two records' round
    # its weeks are let go, the round held in day order is not (yet)
    assert not any(m[1] == first for m in store.loaded)
    assert [scope[1] for scope in store.rounds] == [first]
    for n in range(4):
        push(rss, record(rss, f"GIN-2026-0{n}800", "2026-09-01", survey_round="12m"))
    assert store.rounds == {}
