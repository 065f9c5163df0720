"""Declarative scoring: specs (data, versioned), record scores, batch files, trends.

The server uses four calls::

    spec = scoring.spec_for_form(model)          # at publish: the checked spec, or None
    scoring.check_spec(spec, model)              # raises ScoringError naming sheet + row
    result = scoring.score_record(spec, model, data)   # at ingest
    for line in scoring.score_file(spec, model, path): ...   # `fieldsync score`

Only ``forms.model`` and the standard library are imported.
"""

from scoring.batch import read_records, score_file
from scoring.engine import score_many, score_record
from scoring.errors import ScoringError
from scoring.respondent import normalise_key_part, respondent_key, respondent_key_fields
from scoring.spec import (
    Spec,
    available_specs,
    check_spec,
    declared_spec_version,
    load_spec,
    parse_spec,
    spec_for_form,
)
from scoring.trends import paired_changes, summarise, trajectories

__all__ = [
    "ScoringError",
    "Spec",
    "available_specs",
    "check_spec",
    "declared_spec_version",
    "load_spec",
    "normalise_key_part",
    "paired_changes",
    "parse_spec",
    "read_records",
    "respondent_key",
    "respondent_key_fields",
    "score_file",
    "score_many",
    "score_record",
    "spec_for_form",
    "summarise",
    "trajectories",
]
