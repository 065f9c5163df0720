"""The server's error registry and the one place refusals become responses.

Every refusal is ``{"error": {"code", "message", "details"}}`` with a 4xx status.
Codes are stable: clients and scripts match on them, so a code is never renamed
or reused once shipped. Every package's errors share one base class,
``forms.errors.CodedError`` (code, message, status, details), and the app's
handler renders any of them the same way:

    CodedError (forms.errors)
    ├── FieldsyncError (server: code -> status via CODES; message says what to fix)
    ├── OpenRosaError (server.openrosa.errors)
    ├── FormsError (forms), ScoringError (scoring), SyncError (sync)
"""

from __future__ import annotations

from forms.errors import CodedError

# code -> HTTP status. Append only; retired codes stay listed.
CODES: dict[str, int] = {
    "bad_request": 400,
    "json_invalid": 400,
    "validation_failed": 400,
    "auth_required": 401,
    "token_invalid": 401,
    "forbidden": 403,
    "not_found": 404,
    "form_unknown": 404,
    "form_version_unknown": 404,
    "submission_unknown": 404,
    "method_not_allowed": 405,
    "form_version_conflict": 409,
    "user_exists": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "file_missing": 400,
    "role_unknown": 400,
    "user_unknown": 404,
    "password_too_short": 400,
    "form_state_invalid": 400,
    "attachment_hash_mismatch": 422,
    "attachment_unknown": 404,
    "body_too_large": 413,
    "encoding_unsupported": 415,
    "internal_error": 500,
    "scoring_spec_conflict": 409,
    "match_unknown": 404,
    "match_resolved": 409,
    "csrf_failed": 400,  # a console form without its CSRF token (reload and resend)
    "auth_failed": 401,
    "account_disabled": 403,
    "login_throttled": 429,
    "throttle_unknown": 404,
}


class FieldsyncError(CodedError):
    """A refusal with a stable code; raise it anywhere under ``server/``."""

    STATUS = CODES

    def __init__(self, code: str, message: str, details: dict | None = None,
                 status: int | None = None):
        if code not in CODES:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(code, message, details, status)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}
