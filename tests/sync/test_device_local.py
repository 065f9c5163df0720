"""The device side without a server: the store, Collect import and terminal fill."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from forms.xlsform import convert_xlsform
from sync import device
from sync.device_store import DeviceStore
from sync.errors import SyncError
from sync.fill import fill
from tests.helpers.fake_server import make_record

FORM = b"""
| survey |
| | type | name | label | required | relevant | constraint | calculation |
| | text | case_id | Case | yes | | | |
| | begin group | econ | Economy | | | | |
| | select_one yn | working | Working? | yes | | | |
| | select_multiple assets | assets | Assets | | ${working} = 'yes' | | |
| | integer | age | Age | | | . > 0 and . < 120 | |
| | end group | | | | | | |
| | begin repeat | members | Members | | | | |
| | integer | m_age | Member age | | | | |
| | end repeat | | | | | | |
| | image | photo | Photo | | | | |
| | calculate | key | | | | | concat(${case_id}, '-k') |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| | assets | land | Land |
| | assets | cattle | Cattle |
| settings |
| | form_id | version |
| | hh | 7 |
"""
IID = "uuid:6a1d0c2e-0000-4000-8000-00000000000{}"


@pytest.fixture
def dev(tmp_path):
    db = tmp_path / "device.db"
    device.init(db, "http://127.0.0.1:9", "tok", tmp_path / "media")
    compiled = convert_xlsform(FORM, "hh.md")
    with DeviceStore.open(db) as store:
        store.cache_form("hh", "7", "hh", compiled.hash, compiled.xform, compiled.model)
    return db


def instance(n: int, body: str, *, form="hh", version="7") -> bytes:
    return (f'<?xml version="1.0"?><data id="{form}" version="{version}" '
            f'xmlns:orx="http://openrosa.org/xforms">{body}<orx:meta><orx:instanceID>'
            f'{IID.format(n)}</orx:instanceID></orx:meta></data>').encode()


def collect_folder(root, name, xml: bytes, media: dict | None = None):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / f"{name}.xml").write_bytes(xml)
    for fname, data in (media or {}).items():
        (folder / fname).write_bytes(data)
    return folder


# -- the store -------------------------------------------------------------------

def test_store_is_created_migrated_in_wal_with_full_sync(tmp_path):
    with DeviceStore.open(tmp_path / "d.db") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert [r["name"] for r in store.db["_sqlite_migrations"].rows] == [
            "0001_device", "0002_entity_lists"]


def test_init_keeps_the_device_id_when_pointed_at_another_server(tmp_path):
    first = device.init(tmp_path / "d.db", "http://127.0.0.1:1", "a")
    again = device.init(tmp_path / "d.db", "http://127.0.0.1:2/", "b")
    assert again["device_id"] == first["device_id"]
    assert again["server_url"] == "http://127.0.0.1:2" and again["token"] == "b"


def test_commands_on_an_uninitialised_store_say_to_run_init(tmp_path):
    with pytest.raises(SyncError) as err:
        device.status(tmp_path / "d.db")
    assert err.value.code == "device_not_initialised" and "device init" in err.value.message


def test_adding_the_same_record_twice_queues_it_once(dev):
    with DeviceStore.open(dev) as store:
        assert store.add_record(make_record(1), source="t") is True
        assert store.add_record(make_record(1), source="t") is False
        assert store.count_queued() == 1


def test_same_instance_id_with_other_content_is_refused_on_the_device(dev):
    with DeviceStore.open(dev) as store:
        store.add_record(make_record(1), source="t")
        changed = {**make_record(1), "data": {"case_id": "other"}}
        with pytest.raises(SyncError) as err:
            store.add_record(changed, source="t")
    assert err.value.code == "record_conflict"


def test_mark_sent_is_all_or_nothing(dev):
    with DeviceStore.open(dev) as store:
        for i in range(3):
            store.add_record(make_record(i), source="t")
        store.db.execute("CREATE TRIGGER boom BEFORE UPDATE ON records WHEN "
                         "NEW.instance_id LIKE '%2' BEGIN SELECT RAISE(ABORT, 'full'); END")
        results = [{"instance_id": make_record(i)["instance_id"], "status": "created",
                    "seq": i} for i in range(3)]
        with pytest.raises(sqlite3.Error):
            store.mark_sent(results)
        assert store.count_queued() == 3


def test_status_counts_drafts_queued_and_sent_by_server_status(dev):
    with DeviceStore.open(dev) as store:
        for i in range(4):
            store.add_record(make_record(i), source="t")
        store.save_draft("hh", "7", {"case_id": "x"})
        store.mark_sent([{"instance_id": make_record(0)["instance_id"], "status": "created",
                          "seq": 1},
                         {"instance_id": make_record(1)["instance_id"],
                          "status": "duplicate", "seq": 2}])
    st = device.status(dev)
    assert (st["drafts"], st["queued"], st["sent"]) == (1, 2, 2)
    assert st["by_status"] == {"created": 1, "duplicate": 1}
    assert st["last_push"] is None


# -- Collect import ----------------------------------------------------------------

def test_collect_import_converts_groups_repeats_and_hashes_media(dev, tmp_path):
    photo = b"\xff\xd8jpeg bytes"
    body = ("<case_id>GIN-1</case_id><econ><working>yes</working><assets>land cattle"
            "</assets><age>34</age></econ><members><m_age>9</m_age></members>"
            "<photo>p.jpg</photo><key/>")
    collect_folder(tmp_path / "instances", "hh_2026", instance(1, body), {"p.jpg": photo})
    summary = device.import_collect(dev, tmp_path / "instances")
    assert summary == {"queued": 1, "already_queued": 0, "problems": []}
    with DeviceStore.open(dev) as store:
        rec = store.record(IID.format(1))["record"]
        assert store.attachment_bytes(hashlib.sha256(photo).hexdigest()) == photo
    assert rec["form_id"] == "hh" and rec["form_version"] == "7"
    assert rec["data"] == {"case_id": "GIN-1",
                           "econ": {"working": "yes", "assets": "land cattle", "age": "34"},
                           "members": [{"m_age": "9"}], "photo": "p.jpg", "key": ""}
    assert rec["attachments"] == [{"name": "p.jpg", "sha256": hashlib.sha256(photo).hexdigest(),
                                   "size": len(photo)}]


def test_importing_the_same_folder_twice_queues_nothing_new(dev, tmp_path):
    for n in (1, 2):
        collect_folder(tmp_path / "inst", f"hh_{n}", instance(n, f"<case_id>{n}</case_id>"))
    assert device.import_collect(dev, tmp_path / "inst")["queued"] == 2
    again = device.import_collect(dev, tmp_path / "inst")
    assert (again["queued"], again["already_queued"]) == (0, 2)


def test_bad_record_folders_are_reported_and_the_rest_imported(dev, tmp_path):
    root = tmp_path / "inst"
    collect_folder(root, "good", instance(1, "<case_id>1</case_id>"))
    collect_folder(root, "broken", b"<data id='hh'><case_id>")
    collect_folder(root, "noform", b"<data><case_id>1</case_id></data>")
    collect_folder(root, "evil", b'<!DOCTYPE d [<!ENTITY x "y">]><data id="hh">&x;</data>')
    (root / "empty").mkdir()
    summary = device.import_collect(dev, root)
    assert summary["queued"] == 1
    problems = {p["path"].rsplit("/", 1)[-1]: p["error"] for p in summary["problems"]}
    assert set(problems) == {"broken", "noform", "evil", "empty"}
    assert "'id' attribute" in problems["noform"] and "no instance XML" in problems["empty"]


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p / "file.txt"])
def test_import_of_a_path_that_is_no_folder_is_a_clear_error(dev, tmp_path, make):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SyncError) as err:
        device.import_collect(dev, make(tmp_path))
    assert err.value.code == "collect_folder_invalid"


# -- fill ------------------------------------------------------------------------------

def scripted(answers):
    it = iter(answers)
    asked: list[str] = []

    def ask(prompt, default=None):
        asked.append(prompt)
        return next(it)

    return ask, asked


def test_fill_honours_required_constraint_relevance_choices_and_repeats(dev, tmp_path):
    (tmp_path / "p.jpg").write_bytes(b"img")
    ask, asked = scripted([
        "", "GIN-7",          # case_id: required, then given
        "3", "2",             # working: 3 is no choice, 2 = no -> assets not relevant
        "500", "41",          # age: constraint fails, then ok
        "y", "9", "y", "12", "n",  # two members
        str(tmp_path / "p.jpg"),   # photo
    ])
    said: list[str] = []
    result = fill(dev, "hh", ask=ask, say=said.append)
    with DeviceStore.open(dev) as store:
        rec = store.record(result["instance_id"])
    data = rec["record"]["data"]
    assert rec["state"] == "queued" and result["instance_id"].startswith("uuid:")
    assert data["case_id"] == "GIN-7"
    assert data["econ"] == {"working": "no", "age": "41"}
    assert data["members"] == [{"m_age": "9"}, {"m_age": "12"}]
    assert data["photo"] == "p.jpg" and rec["record"]["attachments"][0]["size"] == 3
    assert data["key"] == "GIN-7-k"
    assert "Assets" not in asked
    assert any("required" in s for s in said) and any("constraint" in s for s in said)
    assert device.status(dev)["drafts"] == 0


def test_fill_of_a_form_not_pulled_says_to_pull(dev):
    with pytest.raises(SyncError) as err:
        fill(dev, "nope", ask=lambda *a, **k: "", say=lambda s: None)
    assert err.value.code == "form_not_cached" and "device pull" in err.value.message
