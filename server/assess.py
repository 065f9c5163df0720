"""Assessing a record against its form version: validation findings and scores.

Called by ingest for every record whose form version is known, and again when
a quarantined record is released. It only reports (findings, flags, scores);
it never refuses a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from forms.model import FormModel


@dataclass
class Assessment:
    """What the checks concluded about one record's answers."""

    data: dict
    findings: list[dict] = field(default_factory=list)
    scores: dict | None = None
    scoring_version: str | None = None
    flags: list[str] = field(default_factory=list)


def assess(db: Database, model: FormModel, assessment: Assessment, received_at: str) -> None:
    """Fill in findings, scores and flags for one record."""
    del db, model, received_at
