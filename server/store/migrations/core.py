"""The core schema: users, tokens and audit, forms, submissions and the change sequence,
scores, probable duplicates and their indexes, the outbox."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0001_users_tokens_audit")
def m0001_users_tokens_audit(db: Database) -> None:
    db.execute(
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN
                ('admin','supervisor','enumerator','analyst','peer')),
            password_hash TEXT,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            details TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_log_action ON audit_log(action, at)")


@migrations(name="0002_forms")
def m0002_forms(db: Database) -> None:
    db.execute(
        """CREATE TABLE forms (
            form_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open','closing','closed')),
            current_version TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE form_versions (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL REFERENCES forms(form_id),
            version TEXT NOT NULL,
            title TEXT NOT NULL,
            xform TEXT NOT NULL,
            md5 TEXT NOT NULL,
            model TEXT NOT NULL,
            source BLOB NOT NULL,
            source_name TEXT NOT NULL,
            source_sha256 TEXT NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT,
            UNIQUE (form_id, version)
        )"""
    )


@migrations(name="0003_submissions")
def m0003_submissions(db: Database) -> None:
    db.execute(
        """CREATE TABLE seq_counter (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            value INTEGER NOT NULL
        )"""
    )
    db.execute("INSERT INTO seq_counter (id, value) VALUES (1, 0)")
    db.execute(
        """CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            instance_id TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            deprecated_id TEXT,
            content_hash TEXT NOT NULL,
            data TEXT NOT NULL,
            raw BLOB,
            raw_format TEXT NOT NULL DEFAULT 'json',
            state TEXT NOT NULL CHECK (state IN
                ('current','superseded','conflict','quarantined')),
            flags TEXT NOT NULL DEFAULT '[]',
            findings TEXT NOT NULL DEFAULT '[]',
            scores TEXT,
            scoring_version TEXT,
            review_state TEXT NOT NULL DEFAULT 'received',
            origin TEXT NOT NULL DEFAULT '{}',
            device_id TEXT,
            submitted_by TEXT,
            received_at TEXT NOT NULL,
            seq INTEGER NOT NULL UNIQUE,
            UNIQUE (instance_id, content_hash)
        )"""
    )
    db.execute("CREATE INDEX submissions_instance ON submissions(instance_id)")
    db.execute("CREATE INDEX submissions_logical ON submissions(logical_id)")
    db.execute("CREATE INDEX submissions_form_seq ON submissions(form_id, seq)")
    db.execute("CREATE INDEX submissions_state ON submissions(state, form_id, form_version)")
    db.execute(
        """CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL,
            received_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE submission_attachments (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            name TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            PRIMARY KEY (submission_id, name)
        )"""
    )
    db.execute(
        """CREATE TABLE batches (
            device_id TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            submitted_by TEXT,
            counts TEXT NOT NULL,
            PRIMARY KEY (device_id, batch_id)
        )"""
    )


@migrations(name="0004_openrosa")
def m0004_openrosa(db: Database) -> None:
    # HA1 = md5(name:realm:password) for Digest; set with the password.
    db.execute("ALTER TABLE users ADD COLUMN digest_ha1 TEXT")
    db.execute(
        """CREATE TABLE openrosa_secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE form_media (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            md5 TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            uploaded_at TEXT NOT NULL,
            uploaded_by TEXT,
            UNIQUE (form_id, version, name),
            FOREIGN KEY (form_id, version) REFERENCES form_versions(form_id, version)
        )"""
    )


@migrations(name="0005_outbox")
def m0005_outbox(db: Database) -> None:
    # Forwarding to HQ. The outbox is the changes feed itself: every
    # write already takes a seq in its own transaction, so "queued in the same
    # transaction as the ingest" holds by construction. ``upstream.cursor`` is
    # the highest seq below which every change has been settled (acknowledged
    # by HQ or dead-lettered); ``outbox_dead`` holds the records HQ refused.
    db.execute(
        """CREATE TABLE upstream (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            url TEXT NOT NULL,
            token TEXT NOT NULL,
            set_at TEXT NOT NULL,
            cursor INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            last_run_by TEXT,
            forwarded INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE outbox_dead (
            submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
            instance_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('refused','attachment')),
            reason TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('dead','retry')),
            attempts INTEGER NOT NULL DEFAULT 1,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL
        )"""
    )


@migrations(name="0007_duplicates_reviews")
def m0007_duplicates_reviews(db: Database) -> None:
    # Probable duplicates and the supervisor's review. One row per
    # stored record with its normalised respondent key, day, device, enumerator
    # and answer signature; indexed so detection at ingest only does lookups.
    db.execute(
        """CREATE TABLE respondent_keys (
            submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
            form_id TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            key_norm TEXT,
            person_norm TEXT,
            round_norm TEXT,
            day INTEGER,
            device_id TEXT,
            enumerator TEXT,
            layout INTEGER NOT NULL,
            sig BLOB NOT NULL
        )"""
    )
    db.execute("CREATE INDEX respondent_keys_person ON respondent_keys(form_id, person_norm)")
    db.execute("CREATE INDEX respondent_keys_device ON respondent_keys(form_id, device_id, day)"
               " WHERE device_id IS NOT NULL")
    db.execute("CREATE INDEX respondent_keys_enumerator ON respondent_keys"
               "(form_id, enumerator, day) WHERE enumerator IS NOT NULL")
    # Deletion neighbourhood of each (form, round, person key), hashed: finds keys
    # one typo apart with a few lookups.
    db.execute(
        """CREATE TABLE respondent_key_variants (
            h INTEGER NOT NULL,
            submission_id INTEGER NOT NULL,
            PRIMARY KEY (h, submission_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE duplicate_matches (
            id INTEGER PRIMARY KEY,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            other_id INTEGER NOT NULL REFERENCES submissions(id),
            form_id TEXT NOT NULL,
            reasons TEXT NOT NULL,
            similarity REAL,
            detected_at TEXT NOT NULL,
            resolution TEXT CHECK (resolution IN ('keep_both','mark_duplicate','merge')),
            resolved_by TEXT,
            resolved_at TEXT,
            duplicate_id INTEGER REFERENCES submissions(id),
            merged_id INTEGER REFERENCES submissions(id),
            comment TEXT,
            UNIQUE (submission_id, other_id)
        )"""
    )
    db.execute("CREATE INDEX duplicate_matches_other ON duplicate_matches(other_id)")
    db.execute("CREATE INDEX duplicate_matches_open ON duplicate_matches(form_id, id) "
               "WHERE resolution IS NULL")
    db.execute(
        """CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            action TEXT NOT NULL,
            state TEXT NOT NULL,
            previous_state TEXT,
            comment TEXT,
            actor TEXT,
            at TEXT NOT NULL,
            match_id INTEGER REFERENCES duplicate_matches(id),
            duplicate_of INTEGER REFERENCES submissions(id)
        )"""
    )
    db.execute("CREATE INDEX reviews_submission ON reviews(submission_id, id)")
    db.execute(
        """CREATE TABLE duplicate_rules (
            form_id TEXT PRIMARY KEY,
            rules TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT
        )"""
    )
    # The supervisor's "flagged" queue without scanning every row.
    db.execute("CREATE INDEX submissions_flag_invalid ON submissions(form_id, id) "
               "WHERE instr(flags, '\"invalid\"') > 0")


@migrations(name="0008_scoring_store")
def m0008_scoring_store(db: Database) -> None:
    # Scoring inside the server: published scoring specs, every spec
    # version's scores of each record, and the background rescoring jobs.
    db.execute(
        """CREATE TABLE scoring_specs (
            id INTEGER PRIMARY KEY,
            version TEXT NOT NULL UNIQUE,
            form_id TEXT NOT NULL,
            document TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            provenance TEXT NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT
        )"""
    )
    db.execute("CREATE INDEX scoring_specs_form ON scoring_specs(form_id, id)")
    db.execute(
        """CREATE TABLE submission_scores (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            scoring_version TEXT NOT NULL,
            scores TEXT,
            indicators TEXT NOT NULL DEFAULT '{}',
            scored_at TEXT NOT NULL,
            PRIMARY KEY (submission_id, scoring_version)
        )"""
    )
    # Scores computed at ingest before this migration become their version's history.
    db.execute(
        """INSERT INTO submission_scores
               (submission_id, scoring_version, scores, indicators, scored_at)
           SELECT id, scoring_version, json_extract(scores, '$.scores'),
                  coalesce(json_extract(scores, '$.indicators'), '{}'), received_at
           FROM submissions WHERE scoring_version IS NOT NULL AND scores IS NOT NULL"""
    )
    db.execute(
        """CREATE TABLE rescore_jobs (
            id INTEGER PRIMARY KEY,
            form_id TEXT NOT NULL,
            scoring_version TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending','running','done','failed')),
            cursor INTEGER NOT NULL DEFAULT 0,
            until_id INTEGER NOT NULL,
            total INTEGER NOT NULL DEFAULT 0,
            processed INTEGER NOT NULL DEFAULT 0,
            rescored INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by TEXT,
            started_at TEXT,
            updated_at TEXT,
            finished_at TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX rescore_jobs_state ON rescore_jobs(state, id)")


@migrations(name="0009_duplicate_typo_index")
def m0009_duplicate_typo_index(db: Database) -> None:
    # Probable duplicates: each key's 2 x 64-bit answer summary (bit i: field i
    # answered; the low bit of its signature byte, a hash of the answer), with
    # which most candidates are dropped without reading them
    # (server/dedup/similarity.py). This migration also built a stored typo
    # index in place of the hashed respondent_key_variants; that index left the
    # store in 0013 (server/dedup/typo_map.py), so it is no longer built here.
    db.execute("ALTER TABLE respondent_keys ADD COLUMN answered INTEGER")
    db.execute("ALTER TABLE respondent_keys ADD COLUMN sketch INTEGER")
    rows = db.execute("SELECT submission_id, sig FROM respondent_keys").fetchall()
    summaries = [(*_summary_of_signature(sig), sid) for sid, sig in rows]
    db.conn.executemany("UPDATE respondent_keys SET answered = ?, sketch = ? "
                        "WHERE submission_id = ?", summaries)
    db.execute("DROP TABLE respondent_key_variants")


def _summary_of_signature(sig: bytes) -> tuple:
    """(answered, sketch) of a signature (one byte per compared field, 0 when
    unanswered), as signed 64-bit numbers; (None, None) beyond 64 fields."""
    if len(sig) > 64:
        return None, None
    answered = sum(1 << i for i, b in enumerate(sig) if b)
    sketch = sum(1 << i for i, b in enumerate(sig) if b & 1)
    return tuple(v - (1 << 64) if v >= (1 << 63) else v for v in (answered, sketch))


@migrations(name="0010_duplicate_typo_index_by_day")
def m0010_duplicate_typo_index_by_day(db: Database) -> None:
    # Rebuilt the stored typo index keyed by day; that index left the store in
    # 0013 (server/dedup/typo_map.py), so there is nothing left to do here.
    pass


@migrations(name="0011_drop_redundant_instance_index")
def m0011_drop_redundant_instance_index(db: Database) -> None:
    # UNIQUE (instance_id, content_hash) already gives an index led by
    # instance_id, which every lookup by instanceID uses; the separate one only
    # cost a random-position insert per record (instanceIDs are random UUIDs).
    db.execute("DROP INDEX IF EXISTS submissions_instance")


@migrations(name="0012_duplicate_near_covering_indexes")
def m0012_duplicate_near_covering_indexes(db: Database) -> None:
    # The near-identical rule reads a tablet's and an enumerator's records of a
    # few days: with the answer summary in the index, each is one range read of
    # the index (no row of respondent_keys, whose rows lie in arrival order).
    db.execute("DROP INDEX IF EXISTS respondent_keys_device")
    db.execute("DROP INDEX IF EXISTS respondent_keys_enumerator")
    db.execute("CREATE INDEX respondent_keys_device ON respondent_keys(form_id, device_id, "
               "day, enumerator, layout, answered, sketch) WHERE device_id IS NOT NULL")
    db.execute("CREATE INDEX respondent_keys_enumerator ON respondent_keys(form_id, "
               "enumerator, day, device_id, layout, answered, sketch) "
               "WHERE enumerator IS NOT NULL")


@migrations(name="0013_typo_keys_by_round_and_day")
def m0013_typo_keys_by_round_and_day(db: Database) -> None:
    # The typo rule's deletion variants leave the store (server/dedup/typo_map.py
    # keeps them in memory, a week at a time): stored, each record wrote a dozen
    # random-position rows whose pages, through the WAL and its checkpoints,
    # made up most of detection's cost at ingest. Its keys are read instead
    # from one index in (form, round, day) order, which new interviews append
    # to, covering what the rule compares.
    db.execute("DROP TABLE IF EXISTS respondent_key_deletions")
    db.execute("DROP TABLE IF EXISTS respondent_key_deletions_recent")
    # The person-key rules read what they compare from the index alone.
    db.execute("DROP INDEX IF EXISTS respondent_keys_person")
    db.execute("CREATE INDEX respondent_keys_person ON respondent_keys(form_id, person_norm, "
               "round_norm, day, key_norm, logical_id)")
    db.execute("CREATE INDEX respondent_keys_round_day ON respondent_keys(form_id, "
               "round_norm, day, person_norm, layout, answered, sketch) "
               "WHERE person_norm IS NOT NULL AND day IS NOT NULL")


@migrations(name="0014_logical_index_of_edits_only")
def m0014_logical_index_of_edits_only(db: Database) -> None:
    # A new record's logical id is its own instanceID (a random UUID): indexing
    # it cost a random-position insert per record, and the instanceID index
    # already finds it. Only the versions that are not their record's first
    # (edits) are indexed by logical id; server/store/submissions.py asks both.
    db.execute("DROP INDEX IF EXISTS submissions_logical")
    db.execute("CREATE INDEX submissions_logical_edits ON submissions(logical_id) "
               "WHERE logical_id != instance_id")
