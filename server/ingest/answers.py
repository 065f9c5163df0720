"""Keeping the flat answers tables in step with forms and submissions.

Thin by design: the table layout and SQL live in ``server.store.answers``; this
module is what the registry (on publish) and ingest (on store) call.
"""

from __future__ import annotations

from sqlite_utils import Database

from forms.model import FormModel
from server.store import answers as answers_q


def prepare(db: Database, model: FormModel) -> None:
    answers_q.ensure_tables(db, model)


def project(db: Database, model: FormModel, submission_id: int, data: dict) -> None:
    answers_q.project(db, model, submission_id, data)
