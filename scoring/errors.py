"""Errors raised by the scoring package.

One class, :class:`ScoringError`, a ``forms.errors.CodedError`` as every package's
errors are: a stable machine ``code``, a ``message`` that says what to fix, an
HTTP-like ``status`` and ``details``. Spec problems list every finding in
``details["errors"]``, each ``{"sheet", "row", "name", "message"}`` where ``sheet`` is the spec section
(``indicators``, ``value_sets``, ``scores``, ``spec``) and ``row`` its 1-based row.

Codes (never renamed or reused):

- ``scoring_spec_invalid`` (422): the spec document itself is malformed.
- ``scoring_spec_form_mismatch`` (422): the spec names a field or choice the form lacks.
- ``scoring_spec_unknown`` (404): no spec with that version is installed.
- ``scoring_input_invalid`` (400): a batch input file (.jsonl/.csv) cannot be read.
"""

from __future__ import annotations

from forms.errors import CodedError

STATUS = {
    "scoring_spec_invalid": 422,
    "scoring_spec_form_mismatch": 422,
    "scoring_spec_unknown": 404,
    "scoring_input_invalid": 400,
}


class ScoringError(CodedError):
    """A scoring spec or input fieldsync cannot use; ``code`` names which rule."""

    STATUS = STATUS
