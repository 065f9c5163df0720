"""Errors of the OpenRosa door, rendered as OpenRosaResponse XML on its routes
and as the usual JSON body on the media upload endpoint.

    OpenRosaError (a forms.errors.CodedError)
    ├── code -> status via CODES (append only; codes are never reused)
    └── message says what to fix

The server's generic codes (auth_required, forbidden, payload_too_large, ...)
stay in ``server.errors``; only the OpenRosa-specific ones live here.
"""

from __future__ import annotations

from forms.errors import CodedError

CODES: dict[str, int] = {
    "submission_missing": 400,       # no xml_submission_file part
    "instance_id_invalid": 400,      # meta/instanceID not like uuid:...
    "submission_form_unknown": 400,  # root element names no form id
    "submission_conflict": 409,      # same instanceID, different content
    "digest_invalid": 401,           # Digest credentials malformed or wrong
    "nonce_stale": 401,              # Digest nonce expired or replayed: retry
    "basic_invalid": 401,            # Basic credentials wrong
    "media_name_invalid": 400,       # form media file name unsafe
    "media_conflict": 409,           # form media name already holds other bytes
    "media_unknown": 404,            # no such form media file
}


class OpenRosaError(CodedError):
    """A refusal on the OpenRosa door; carries code, message, status, details."""

    STATUS = CODES

    def __init__(self, code: str, message: str, details: dict | None = None):
        if code not in CODES:
            raise ValueError(f"unregistered OpenRosa error code {code!r}")
        super().__init__(code, message, details)
