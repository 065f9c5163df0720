"""Errors of entity lists, due lists and their imports, rendered as the usual
JSON error body (``{"error": {"code", "message", "details"}}``).

    EntitiesError
    ├── code -> status via CODES (append only; codes are never reused)
    └── message says what to fix

The server's generic codes (auth_required, forbidden, bad_request, ...) stay in
``server.errors``; only the ones about lists live here.
"""

from __future__ import annotations

from forms.errors import CodedError

CODES: dict[str, int] = {
    "list_unknown": 404,         # no entity list of that name
    "list_name_invalid": 400,    # not a usable list name
    "entity_unknown": 404,       # no entity with that id in the list
    "entity_conflict_unknown": 404,   # no entity conflict with that id
    "entity_conflict_resolved": 409,  # the conflict was resolved already
    "import_invalid": 422,       # the CSV cannot be imported (rows and columns in details)
    "property_invalid": 400,     # a property name that is reserved or not a name
    "schedule_invalid": 400,     # a due schedule that cannot be used
    "team_invalid": 400,         # a team name or member list that cannot be used
}


class EntitiesError(CodedError):
    """A refusal about entity lists; carries code, message, status, details."""

    STATUS = CODES

    def __init__(self, code: str, message: str, details: dict | None = None):
        if code not in CODES:
            raise ValueError(f"unregistered entities error code {code!r}")
        super().__init__(code, message, details)
