"""`fieldsync rescore` as the worker's job, run by hand."""

from __future__ import annotations

import json
import subprocess
import sys

from server.ingest.pipeline import ingest
from server.registry.publish import publish_builtin_rss
from server.scores.specs import install_builtin_specs
from server.store import open_db
from tests.helpers.scoring import envelope, satisfaction_record, spec_doc


def fieldsync(*args, db):
    return subprocess.run([sys.executable, "-m", "server.cli", *map(str, args), "--db", str(db)],
                          capture_output=True, text=True, timeout=120)


def test_rescore_for_a_form_queues_and_runs_a_job_then_finds_nothing_left(tmp_path):
    path = tmp_path / "store.db"
    db = open_db(path, migrate=True)
    version = publish_builtin_rss(db)["version"]
    install_builtin_specs(db)
    ingest(db, [envelope(satisfaction_record("neutral"), version)], door="sync")
    db.close()
    spec = tmp_path / "rss-v2.json"
    spec.write_text(json.dumps(spec_doc("rss-v2")))
    out = fieldsync("scoring", "publish", "--no-rescore", spec, db=path)
    assert out.stdout.strip() == "rss-v2 rss"
    out = fieldsync("rescore", "--form", "rss", db=path)
    assert out.returncode == 0 and "1 rescored" in out.stderr
    out = fieldsync("rescore", "--form", "rss", db=path)
    assert out.returncode == 0 and "0 rescored" in out.stderr
