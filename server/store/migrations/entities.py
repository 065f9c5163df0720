"""Entity lists, their versions, conflicts, teams and due schedules."""

from __future__ import annotations

from sqlite_utils import Database

from server.store.migrations import migrations


@migrations(name="0020_entity_lists")
def m0020_entity_lists(db: Database) -> None:
    # Entity lists (server/entities): the people or things forms are
    # about, written by submissions in the record's own transaction, imported by
    # the office, served to tablets as form media. ``properties``: the list's
    # columns in order of first use.
    db.execute("""CREATE TABLE entity_lists (
        name TEXT PRIMARY KEY, properties TEXT NOT NULL DEFAULT '[]', key_property TEXT,
        created_at TEXT NOT NULL, created_by TEXT)""")
    # Each entity as it is now. ``key_norm``: the normalised value of the list's
    # key property (a case id), which no second entity may take; ``assignee``:
    # the user or team whose tablets carry it (NULL: every tablet).
    db.execute("""CREATE TABLE entities (
        id INTEGER PRIMARY KEY, list TEXT NOT NULL REFERENCES entity_lists(name),
        uuid TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL,
        properties TEXT NOT NULL DEFAULT '{}', assignee TEXT, key_norm TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        open_conflicts INTEGER NOT NULL DEFAULT 0, UNIQUE (list, uuid))""")
    db.execute("CREATE INDEX entities_assignee ON entities(list, assignee, id)")
    db.execute("CREATE INDEX entities_key ON entities(list, key_norm) "
               "WHERE key_norm IS NOT NULL")
    # Every version: what it became, what changed, where from (a submission, an
    # import, a reviewer). A list's newest version row is its revision, from
    # which the list file's OpenRosa hash is derived (found through
    # ``entity_versions_list``, to which new versions append).
    db.execute("""CREATE TABLE entity_versions (
        list TEXT NOT NULL, entity_id INTEGER NOT NULL REFERENCES entities(id),
        version INTEGER NOT NULL, label TEXT NOT NULL, properties TEXT NOT NULL,
        changes TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('submission','import','review','api')),
        submission_id INTEGER REFERENCES submissions(id), base_version INTEGER,
        branch_id TEXT, actor TEXT, at TEXT NOT NULL, PRIMARY KEY (entity_id, version))""")
    db.execute("CREATE INDEX entity_versions_list ON entity_versions(list)")
    db.execute("CREATE INDEX entity_versions_submission ON entity_versions(submission_id) "
               "WHERE submission_id IS NOT NULL")
    # A change a submission asked for that was not applied (an update from an old
    # version, an unknown entity, a taken key), kept whole for a reviewer.
    db.execute("""CREATE TABLE entity_conflicts (
        id INTEGER PRIMARY KEY, list TEXT NOT NULL, entity_uuid TEXT NOT NULL,
        entity_id INTEGER REFERENCES entities(id),
        submission_id INTEGER REFERENCES submissions(id), reason TEXT NOT NULL,
        base_version INTEGER, current_version INTEGER, proposed TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        resolution TEXT CHECK (resolution IN ('applied','dismissed')),
        resolved_by TEXT, resolved_at TEXT, comment TEXT)""")
    db.execute("CREATE INDEX entity_conflicts_open ON entity_conflicts(list, id) "
               "WHERE resolution IS NULL")
    db.execute("CREATE INDEX entity_conflicts_entity ON entity_conflicts(entity_id)")
    db.execute("""CREATE TABLE entity_teams (team TEXT NOT NULL, user_name TEXT NOT NULL,
        PRIMARY KEY (team, user_name)) WITHOUT ROWID""")
    db.execute("CREATE INDEX entity_teams_user ON entity_teams(user_name)")
    # Follow-up rounds and their intervals, per form (server/entities/due.py).
    db.execute("""CREATE TABLE due_schedules (form_id TEXT PRIMARY KEY,
        schedule TEXT NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT)""")
