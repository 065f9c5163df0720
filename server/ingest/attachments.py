"""An edit keeps the files of the version it replaces.

Enketo, Collect and the device client send an edited record with the files the
user changed; a file left alone is still named in the answers but not sent
again (Enketo never resends it). Attachments are content-addressed (sha256),
so the new version points at the stored file of the same name that the
version it replaces holds, as ODK Central does: nothing is copied and nothing
is waited for.

A file the edit names that neither the edit nor the replaced version holds is
truly missing: the new version is flagged ``attachment_missing`` (and
``invalid``, which puts it in the supervisor's flagged queue) with one finding
per file. When a later part of the same submission brings the file (OpenRosa
splits a large submission over several POSTs; the JSON sync API resends a
record with its attachments listed), ``settle`` lifts the flag.
"""

from __future__ import annotations

from sqlite_utils import Database

from server.store import submissions as subs_q

MISSING = "attachment_missing"
INVALID = "invalid"


def carry_forward(db: Database, deprecated_id: str, listed: list[dict],
                  named: list[str]) -> tuple[list[dict], list[str]]:
    """(the replaced version's attachments the edit keeps, the names missing).

    ``listed``: the attachments the edit itself carries (``{name, sha256, size}``);
    ``named``: the file names its answers refer to."""
    sent = {a["name"] for a in listed if a.get("sha256")}
    wanted = [name for name in dict.fromkeys(named) if name not in sent]
    if not wanted:
        return [], []
    previous = [r for r in subs_q.by_instance(db, deprecated_id) if r["state"] != "conflict"]
    held = {a["name"]: a for a in subs_q.attachments(db, previous[0]["id"])
            if a["sha256"]} if previous else {}
    kept = [{"name": n, "sha256": held[n]["sha256"], "size": held[n]["size"]}
            for n in wanted if n in held]
    return kept, [n for n in wanted if n not in held]


def flag_missing(row: dict, names: list[str]) -> None:
    """Flag ``row`` (before it is stored) for files no version holds."""
    if not names:
        return
    for flag in (MISSING, INVALID):
        if flag not in row["flags"]:
            row["flags"].append(flag)
    row["findings"] = list(row["findings"]) + [{
        "path": "", "code": MISSING, "severity": "error",
        "message": f"The edit names the file '{name}', which neither it nor the version it "
                   "replaces holds; send the file again (the same submission with it)."}
        for name in names]
    row.pop("findings_json", None)  # the list changed: encoded again at insert


def settle(db: Database, row: dict) -> dict:
    """Lift ``attachment_missing`` once every file the row names is linked (a
    later part brought it); returns the row as stored now."""
    if MISSING not in row["flags"]:
        return row
    if any(a["sha256"] is None for a in subs_q.attachments(db, row["id"])):
        return row
    findings = [f for f in row["findings"] if f.get("code") != MISSING]
    flags = [f for f in row["flags"] if f != MISSING]
    if not any(f.get("severity") == "error" for f in findings):
        flags = [f for f in flags if f != INVALID]
    subs_q.update(db, row["id"], flags=flags, findings=findings)
    return subs_q.by_id(db, row["id"])
