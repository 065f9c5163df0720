"""Queries on the audit log: who published, created tokens, reviewed, and when."""

from __future__ import annotations

import json

from sqlite_utils import Database

from server.store.clock import utcnow


def record(db: Database, actor: str | None, action: str, target: str | None,
           details: dict | None = None) -> None:
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
        [utcnow(), actor, action, target, json.dumps(details or {}, sort_keys=True)],
    )


def entries(db: Database, action: str | None = None, limit: int = 100) -> list[dict]:
    sql = "SELECT at, actor, action, target, details FROM audit_log"
    params: list = []
    if action:
        sql += " WHERE action = ?"
        params.append(action)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = db.execute(sql, params).fetchall()
    return [
        {"at": r[0], "actor": r[1], "action": r[2], "target": r[3],
         "details": json.loads(r[4] or "{}")}
        for r in rows
    ]
