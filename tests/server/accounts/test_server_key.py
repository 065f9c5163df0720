"""A copied store alone must not allow guessing faster than scrypt: the Digest
secret (HA1) is kept sealed with the server key, a file outside the database,
created once with mode 0600 before the workers start."""

from __future__ import annotations

import hashlib
import os
import stat
import threading

import pytest

from server.accounts import keys
from server.ops.serve import prepare_store
from server.store import open_db
from tests.helpers.accounts import Site, basic_header, cheap_password_hashes

PASSWORD = "digest-pass-123"


@pytest.fixture
def site(tmp_path):
    with cheap_password_hashes():
        yield Site(tmp_path)


def test_the_store_file_holds_no_digest_secret_a_guesser_could_use(site):
    site.add("amina", "enumerator", PASSWORD)
    ha1 = hashlib.md5(f"amina:fieldsync:{PASSWORD}".encode()).hexdigest()
    assert site.call("GET", "/formList", auth=site.digest("amina", PASSWORD)).status_code == 200
    db = site.db()
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        [stored] = db.execute("SELECT digest_ha1 FROM users WHERE name = 'amina'").fetchone()
    finally:
        db.close()
    assert stored.startswith("v1.") and ha1 not in stored
    everything = site.db_path.read_bytes()
    wal = site.db_path.with_name(site.db_path.name + "-wal")
    if wal.exists():
        everything += wal.read_bytes()
    assert ha1.encode() not in everything and bytes.fromhex(ha1) not in everything


def test_serve_creates_the_key_file_beside_the_store_readable_by_its_owner_only(tmp_path):
    prepare_store(str(tmp_path / "office.db"))
    key_file = tmp_path / "office.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == keys.KEY_BYTES
    before = key_file.read_bytes()
    prepare_store(str(tmp_path / "office.db"))  # a restart keeps it
    assert key_file.read_bytes() == before


def test_processes_racing_to_create_the_key_all_end_with_the_same_one(tmp_path):
    path = tmp_path / "race.key"
    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(keys.load_or_create_key(path)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and got[0] == path.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["race.key"]  # no temporary file left


def test_a_sealed_secret_moved_to_another_account_or_opened_with_another_key_fails():
    key, other = os.urandom(32), os.urandom(32)
    sealed = keys.seal(key, "digest-ha1", b"sixteen bytes!!!", aad=b"amina")
    assert keys.unseal(key, "digest-ha1", sealed, aad=b"amina") == b"sixteen bytes!!!"
    assert keys.unseal(key, "digest-ha1", sealed, aad=b"moussa") is None
    assert keys.unseal(other, "digest-ha1", sealed, aad=b"amina") is None
    assert keys.unseal(key, "cookies", sealed, aad=b"amina") is None


def test_with_the_key_file_lost_digest_fails_until_one_basic_sign_in(site, tmp_path):
    site.add("moussa", "enumerator", PASSWORD)
    key_file = tmp_path / "site.db.key"
    key_file.unlink()
    keys._loaded.clear()  # as a restart would: the next use makes a new key
    assert site.call("GET", "/formList", auth=site.digest("moussa", PASSWORD)).status_code == 401
    assert site.call("GET", "/formList",
                     auth=basic_header("moussa", PASSWORD)).status_code == 200
    assert site.call("GET", "/formList", auth=site.digest("moussa", PASSWORD)).status_code == 200
    assert key_file.exists()


def test_a_store_from_before_the_key_has_its_digest_secrets_sealed_at_start(tmp_path):
    path = tmp_path / "old.db"
    prepare_store(str(path))
    ha1 = hashlib.md5(f"old-enum:fieldsync:{PASSWORD}".encode()).hexdigest()
    db = open_db(path)
    try:  # as an earlier release stored it: in clear
        db.execute("INSERT INTO users (name, role, created_at, digest_ha1) "
                   "VALUES ('old-enum', 'enumerator', '2026-01-01', ?)", [ha1])
    finally:
        db.close()
    prepare_store(str(path))
    db = open_db(path)
    try:
        [stored] = db.execute("SELECT digest_ha1 FROM users WHERE name = 'old-enum'"
                              ).fetchone()
    finally:
        db.close()
    assert stored.startswith("v1.")
    key = keys.load_or_create_key(tmp_path / "old.db.key")
    assert keys.unseal(key, "digest-ha1", stored, aad=b"old-enum") == bytes.fromhex(ha1)
