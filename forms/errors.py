"""Errors raised by the forms package, and the base class of every package's errors.

``CodedError`` is what the five packages' errors have in common (forms' ``FormsError``,
``scoring.errors.ScoringError``, ``sync.errors.SyncError``, ``server.errors.FieldsyncError``,
``server.openrosa.errors.OpenRosaError``): a stable machine ``code``, a human
``message`` that says what to fix, an HTTP-like ``status`` and ``details``. It
lives here because forms is the layer every other package may import; the
server renders any ``CodedError`` the same way, and nothing here knows HTTP.

    CodedError
    ├── FormsError      (forms; details of XLSForm problems: [{sheet, row, message}])
    ├── ScoringError    (scoring)
    ├── SyncError       (sync)
    ├── FieldsyncError  (server; codes checked against server.errors.CODES)
    └── OpenRosaError   (server.openrosa)

Each package keeps its own registry of codes (code -> status); codes are never
renamed or reused.
"""

from __future__ import annotations

STATUS = {
    "xml_invalid": 400,
    "xml_forbidden": 400,
    "xlsform_invalid": 422,
    "xlsform_unreadable": 422,
    "xlsform_type_unsupported": 415,
    "xlsform_expression_unsupported": 422,
    "submission_invalid": 400,
    "timezone_invalid": 400,
}


class CodedError(Exception):
    """A refusal with a stable ``code``; ``status`` defaults to the package's
    registry (``STATUS``, code -> HTTP-like status), else 400."""

    STATUS: dict[str, int] = {}

    def __init__(self, code: str, message: str, details: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or self.STATUS.get(code, 400)


class FormsError(CodedError):
    """A form or document fieldsync cannot accept; ``code`` names which rule."""

    STATUS = STATUS
