"""Public links: an anonymous, revocable address that accepts records of one
form only, for self-administered surveys (a respondent fills the form in
Enketo, with no account).

A link is a random token in a path: ``{SERVER_URL}/public/{token}`` is an
OpenRosa server that lists the one form and accepts submissions to it
(server/routes/public.py); Enketo is given that address as the survey's
server, so its links (the single-submission one is the one to share) submit
there. What a link may do:

- list, download and submit its one form, while the form is open or closing
  (closed: refused, and its Enketo survey deactivated with the form's);
- never edit: a record carrying a deprecatedID is refused;
- at most ``PUBLIC_LINK_SUBMISSIONS_PER_HOUR`` submissions per client address
  per hour, counted in the store beside failed sign-ins
  (``server.accounts.throttle.count_event``; ``fieldsync throttle list`` shows
  them as ``public:ADDRESS``).

Records that came through a link are marked: their origin's door is
``public_link`` and their submitter ``public-link:ID`` (the console's
provenance, the exports' ``enumerator`` column). The token is stored as its
sha256 (to find the link) and sealed with the server key (to show it again);
revoking a link ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlite_utils import Database

from server.accounts import keys, throttle
from server.enketo.errors import EnketoError
from server.registry import publish as registry
from server.store import audit
from server.store import enketo as enketo_q
from server.store.db import write_transaction

SEAL_PURPOSE = "public-link"
TOKEN_BYTES = 24
MAX_LABEL = 100
SUBMITTER_PREFIX = "public-link:"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def door_url(server_url: str, token: str) -> str:
    """The OpenRosa address of a link (what Enketo, or Collect, is given)."""
    return f"{server_url}/public/{token}"


def submitter(link: dict) -> str:
    return f"{SUBMITTER_PREFIX}{link['id']}"


def token_of(db: Database, link: dict) -> str | None:
    """The link's token, unsealed (None if the store was moved without its key)."""
    raw = keys.unseal(keys.key_for_store(db), SEAL_PURPOSE, link["token_sealed"],
                      aad=link["token_hash"].encode())
    return raw.decode("utf-8") if raw is not None else None


def public_link_create(db: Database, form_id: str, label: str | None = None,
                       actor: str | None = None) -> dict:
    """A new link to ``form_id``; the answer holds its token."""
    registry.form_get(db, form_id)
    label = (label or "").strip() or "public link"
    if len(label) > MAX_LABEL or not label.isprintable():
        raise EnketoError("public_link_label_invalid", f"A link's label is at most "
                          f"{MAX_LABEL} printable characters.", {"label": label[:MAX_LABEL]})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    token_hash = _hash(token)
    sealed = keys.seal(keys.key_for_store(db), SEAL_PURPOSE, token.encode("utf-8"),
                       aad=token_hash.encode())
    with write_transaction(db):
        link_id = enketo_q.link_insert(db, form_id, label, token_hash, sealed, actor)
        audit.record(db, actor, "public_link.create", form_id, {"id": link_id, "label": label})
    return enketo_q.link_get(db, link_id)


def public_link_revoke(db: Database, link_id: int, actor: str | None = None) -> dict:
    """End a link at once; revoking it again changes nothing."""
    with write_transaction(db):
        link = enketo_q.link_get(db, link_id)
        if link is None:
            raise EnketoError("public_link_unknown", f"No public link {link_id}; list a "
                              "form's links with `fieldsync public-link list FORM_ID`.",
                              {"id": link_id})
        if enketo_q.link_revoke(db, link_id, actor):
            audit.record(db, actor, "public_link.revoke", link["form_id"], {"id": link_id})
    return enketo_q.link_get(db, link_id)


def link_view(db: Database, link: dict, server_url: str | None) -> dict:
    """A link as the API, the CLI and the console show it (its address while live)."""
    token = token_of(db, link) if link["revoked_at"] is None else None
    return {
        "id": link["id"], "form_id": link["form_id"], "label": link["label"],
        "created_by": link["created_by"], "created_at": link["created_at"],
        "revoked_by": link["revoked_by"], "revoked_at": link["revoked_at"],
        "server_url": door_url(server_url, token) if token and server_url else None,
        "enketo": enketo_q.survey_shown(db, link["form_id"], link["id"]),
    }


def public_link_list(db: Database, form_id: str, server_url: str | None) -> list[dict]:
    registry.form_get(db, form_id)
    return [link_view(db, link, server_url) for link in enketo_q.links_of(db, form_id)]


def holder(db: Database, token: str) -> dict:
    """The live link of ``token``, or ``public_link_unknown``."""
    link = enketo_q.link_by_hash(db, _hash(token or ""))
    if link is None or link["revoked_at"] is not None:
        raise EnketoError("public_link_unknown", "This link is unknown or was revoked; ask "
                          "the survey's organisers for a current link.")
    return link


def limit(db: Database, address: str, per_hour: int) -> None:
    """Count a submission from ``address``; refuse one too many (0: no limit)."""
    if per_hour > 0:
        wait = throttle.count_event(db, f"public:{address}", per_hour)
        if wait:
            raise EnketoError("public_link_throttled", f"Too many submissions from this "
                              f"address; try again in {wait} seconds.", {"retry_after": wait})


def admit(db: Database, link: dict, record: dict) -> None:
    """Refuse a submission this link may not make."""
    if record.get("form_id") != link["form_id"]:
        raise EnketoError("public_link_form_mismatch", f"This link accepts records of form "
                          f"'{link['form_id']}' only.", {"form_id": link["form_id"]})
    if record.get("deprecated_id"):
        raise EnketoError("public_link_edit_refused", "A public link adds new records; it "
                          "cannot change one already sent.", {})
    if registry.form_get(db, link["form_id"])["state"] == "closed":
        raise EnketoError("public_link_closed", f"The survey '{link['form_id']}' is closed "
                          "and takes no more answers.", {"form_id": link["form_id"]})
