"""Errors of the Central-compatible API and OData, and the one place they become
responses on those routes.

    CentralError
    ├── code -> (HTTP status, Central's numeric code) via CODES (append only)
    └── message says what to fix

ODK Central answers a refusal with ``{"code": 404.1, "message": ...}``; clients
(pyodk, ruODK) print those two keys. fieldsync's own clients match on
``{"error": {"code", "message", "details"}}``. A refusal on a ``/v1`` route
carries both, so either kind of client reads it: Central's keys at the top, and
fieldsync's stable code under ``error``. The server's generic codes
(``auth_required``, ``forbidden``, ``form_unknown`` ...) keep their names and
are given Central's number for their status.
"""

from __future__ import annotations

from flask import Response, json, request

from forms.errors import CodedError

# code -> (HTTP status, Central's problem code). Append only; codes are never reused.
CODES: dict[str, tuple[int, float]] = {
    "credentials_invalid": (401, 401.2),    # wrong user/password or unknown session
    "session_unknown": (404, 404.1),        # DELETE of a session that is not the caller's
    "project_unknown": (404, 404.1),        # only project 1 exists
    "submission_xml_invalid": (400, 400.2),  # POST body is not a submission instance
    "submission_form_mismatch": (400, 400.8),  # the XML names another form than the URL
    "submission_conflict": (409, 409.3),    # same instanceID, different content (kept, flagged)
    "review_state_invalid": (400, 400.2),   # PATCH reviewState is not a Central state
    "attachment_not_expected": (404, 404.1),  # the submission names no such file
    "odata_query_invalid": (400, 400.2),    # $filter, $select, $top ... malformed
    "odata_property_unknown": (400, 400.2),  # a property the table does not have
    "odata_unsupported": (501, 501.1),      # a valid OData feature fieldsync does not serve
    "odata_format_unacceptable": (406, 406.1),  # $format other than json (xml for $metadata)
    "odata_table_unknown": (404, 404.1),    # no such entity set for this form
    "comment_invalid": (400, 400.2),        # POST .../comments without {"body": text}
    "submission_edit_stale": (409, 409.1),  # PUT whose deprecatedID is not the current version
}

# Central's number for the server's generic codes, by HTTP status.
BY_STATUS = {400: 400.1, 401: 401.2, 403: 403.1, 404: 404.1, 405: 405.1, 406: 406.1,
             409: 409.1, 413: 413.1, 415: 415.1, 422: 422.1, 500: 500.1, 501: 501.1}
REALM = "fieldsync"


class CentralError(CodedError):
    """A refusal on the Central-compatible routes; carries code, message, status, details."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        if code not in CODES:
            raise ValueError(f"unregistered Central error code {code!r}")
        super().__init__(code, message, details, status=CODES[code][0])


def central_number(code: str, status: int) -> float:
    if code in CODES:
        return CODES[code][1]
    return BY_STATUS.get(status, float(status))


def render_error(status: int, code: str, message: str, details: dict) -> Response:
    """Both shapes in one body; a 401 also offers Basic (Excel and Power BI ask
    for credentials only after such a challenge)."""
    if code == "auth_required":
        message = ("Sign in: send 'Authorization: Bearer TOKEN' (a session from POST "
                   "/v1/sessions or a fieldsync token) or Basic credentials.")
    body = {"code": central_number(code, status), "message": message, "details": details,
            "error": {"code": code, "message": message, "details": details}}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    if ".svc" in request.path:
        response.headers["OData-Version"] = "4.0"
    return response
