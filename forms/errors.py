"""Errors raised by the forms package.

Each carries a stable machine ``code``, a human ``message`` that says what to
fix, an HTTP-like ``status`` the server uses when rendering it, and ``details``
(for XLSForm problems: a list of ``{sheet, row, message}``). The server's error
registry renders these; nothing here knows about HTTP.
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


class FormsError(Exception):
    """A form or document fieldsync cannot accept; ``code`` names which rule."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = STATUS.get(code, 400)
