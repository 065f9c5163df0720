"""Assessing a record against its form version: validation findings and scores.

Called by ingest for every record whose form version is known, and again when
a quarantined record is released. It only reports (findings, flags, scores);
it never refuses a record: a record with errors is stored and flagged
``invalid`` for the supervisor's queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

import scoring
from forms.model import FormModel
from forms.validate import normalize_data, validate_record
from server.ingest.timezone import server_timezone
from server.registry.models import media_for, spec_for


@dataclass
class Assessment:
    """What the checks concluded about one record's answers."""

    data: dict
    findings: list[dict] = field(default_factory=list)
    scores: dict | None = None
    scoring_version: str | None = None
    flags: list[str] = field(default_factory=list)


_LOOK_UP = object()


def assess(db: Database, model: FormModel, assessment: Assessment, received_at: str,
           spec=_LOOK_UP) -> None:
    """Normalise the answers' shape, validate them and score them.

    ``spec`` is the scoring spec when the caller already looked it up (ingest
    does once per batch); by default it is looked up here.
    """
    assessment.data = normalize_data(model, assessment.data)
    now = datetime.fromisoformat(received_at.replace("Z", "+00:00"))
    findings = validate_record(model, assessment.data, now=now, normalized=True,
                               media=media_for(db, model), tz=server_timezone())
    assessment.findings = [f.to_dict() for f in findings]
    if any(f.severity == "error" for f in findings):
        assessment.flags.append("invalid")
    if spec is _LOOK_UP:
        spec = spec_for(db, model)
    if spec is not None:
        result = scoring.score_record(spec, model, assessment.data)
        assessment.scores = {"scores": result["scores"], "indicators": result["indicators"]}
        assessment.scoring_version = result["scoring_version"]
