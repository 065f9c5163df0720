"""Errors of the Enketo integration and of public links, rendered as the usual
JSON error body (OpenRosaResponse XML on a public link's OpenRosa door).

    EnketoError
    ├── code -> status via CODES (append only; codes are never reused)
    └── message says what to fix

The server's generic codes (auth_required, forbidden, form_unknown, ...) stay
in ``server.errors``; only the ones about Enketo and public links live here.
"""

from __future__ import annotations

from forms.errors import CodedError

CODES: dict[str, int] = {
    "enketo_not_configured": 409,   # no Enketo URL, API key or server URL set
    "enketo_unreachable": 502,      # Enketo did not answer (down, wrong URL, timeout)
    "enketo_refused": 502,          # Enketo answered with an error (details: its status)
    "enketo_edit_busy": 409,        # the record was opened in Enketo less than a minute ago
    "enketo_form_not_open": 409,    # web-form links and edits need an open form
    "enketo_record_not_current": 409,  # only the current version of a record is edited
    "media_link_invalid": 403,      # a signed attachment URL altered or for another record
    "media_link_expired": 403,      # a signed attachment URL past its time
    "public_link_unknown": 404,     # no live public link with this token
    "public_link_closed": 403,      # the link's form is closed
    "public_link_form_mismatch": 403,  # a record of another form through a public link
    "public_link_edit_refused": 403,   # an edit (deprecatedID) through a public link
    "public_link_throttled": 429,   # too many submissions from this address; retry later
    "public_link_label_invalid": 400,  # empty or too long a label
}


class EnketoError(CodedError):
    """A refusal about Enketo or public links; carries code, message, status, details."""

    STATUS = CODES

    def __init__(self, code: str, message: str, details: dict | None = None):
        if code not in CODES:
            raise ValueError(f"unregistered enketo error code {code!r}")
        super().__init__(code, message, details)
