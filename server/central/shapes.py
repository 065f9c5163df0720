"""Central's JSON shapes for users, projects, forms, form versions and fields.

Every key Central's schema defines is present, null when fieldsync has no such
thing (``enketoId``, ``keyId`` ...), because some clients (pyodk's pydantic
models) require the keys. ``X-Extended-Metadata: true`` adds Central's extended
keys. Projects: fieldsync has one, ``DEFAULT_PROJECT`` (id 1), holding every form.
"""

from __future__ import annotations

from sqlite_utils import Database

from forms.model import FormModel
from server.accounts.auth import PERMISSIONS
from server.central.edm import sanitize
from server.central.errors import CentralError
from server.store import central as central_q
from server.store import forms as forms_q
from server.store.clock import utcnow

DEFAULT_PROJECT = 1
EXCEL_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               ".xls": "application/vnd.ms-excel"}
# Central's verbs for what a fieldsync permission lets a role do (users/current).
VERBS = {
    "forms.read": ("project.read", "form.list", "form.read"),
    "submissions.read": ("submission.read", "submission.list"),
    "submissions.create": ("submission.create",),
    "submissions.review": ("submission.update",),
    "forms.publish": ("form.create", "form.update"),
}


def check_project(project_id: int) -> None:
    if project_id != DEFAULT_PROJECT:
        raise CentralError("project_unknown", f"No project {project_id}: fieldsync serves "
                           f"one project, {DEFAULT_PROJECT}, holding every form.",
                           {"project_id": project_id})


def actor(user: dict | None, name: str | None = None) -> dict:
    """A Central Actor; an account this server does not hold gets id 0."""
    if user is None:
        return {"id": 0, "type": "user", "displayName": name or "", "createdAt": None,
                "updatedAt": None, "deletedAt": None}
    return {"id": user["id"], "type": "user", "displayName": user["name"],
            "createdAt": user["created_at"], "updatedAt": None,
            "deletedAt": user["disabled_at"]}


def current_user(user: dict, extended: bool) -> dict:
    out = {**actor(user), "email": user["name"], "lastLoginAt": None}
    if extended:
        out["verbs"] = sorted({verb for perm, verbs in VERBS.items()
                               if user["role"] in PERMISSIONS[perm] for verb in verbs})
    return out


def project(db: Database, name: str, extended: bool) -> dict:
    out = {"id": DEFAULT_PROJECT, "name": name, "description": None, "keyId": None,
           "archived": False, "createdAt": central_q.first_account_at(db) or utcnow(),
           "updatedAt": None, "deletedAt": None}
    if extended:
        forms, last = central_q.project_counts(db)
        out.update({"forms": forms, "appUsers": 0, "lastSubmission": last, "datasets": 0})
    return out


def form(db: Database, row: dict, extended: bool) -> dict:
    """Central's Form for a fieldsync form (its current version)."""
    versions = forms_q.list_versions(db, row["form_id"])
    current = next((v for v in versions if v["version"] == row["current_version"]),
                   versions[-1])
    out = _version_shape(row, current, versions)
    if extended:
        counts = central_q.form_counts(db, row["form_id"])
        first = versions[0]
        out.update({
            "submissions": counts["submissions"],
            "reviewStates": {k: counts[k] for k in ("received", "hasIssues", "edited")},
            "lastSubmission": counts["lastSubmission"],
            "createdBy": actor(central_q.user_by_name(db, first["published_by"]),
                               first["published_by"]),
            "excelContentType": _excel(current["source_name"]),
            "entityRelated": False, "publicLinks": 0})
    return out


def form_versions(db: Database, row: dict, extended: bool) -> list[dict]:
    versions = forms_q.list_versions(db, row["form_id"])
    out = []
    for v in reversed(versions):  # newest first, as Central lists them
        shape = _version_shape(row, v, versions)
        if extended:
            shape["publishedBy"] = actor(central_q.user_by_name(db, v["published_by"]),
                                         v["published_by"])
            shape["excelContentType"] = _excel(v["source_name"])
        out.append(shape)
    return out


def _version_shape(row: dict, version: dict, versions: list[dict]) -> dict:
    return {
        "projectId": DEFAULT_PROJECT, "xmlFormId": row["form_id"],
        "name": version["title"] or None, "version": version["version"] or "",
        "enketoId": None, "enketoOnceId": None, "hash": version["md5"], "keyId": None,
        "state": row["state"], "publishedAt": version["published_at"],
        "createdAt": row["created_at"],
        "updatedAt": version["published_at"] if version is not versions[0] else None,
        "webformsEnabled": False, "draftToken": None,
    }


def _excel(source_name: str | None) -> str | None:
    name = (source_name or "").lower()
    return next((t for ext, t in EXCEL_TYPES.items() if name.endswith(ext)), None)


def fields(model: FormModel, odata: bool) -> list[dict]:
    """The form's fields in document order: Central's ``/fields`` listing."""
    containers = {f.parent for f in model.fields.values() if f.parent}
    out = []
    for f in model.fields.values():
        parts = f.path.split("/")
        if odata:
            parts = [sanitize(p) for p in parts]
        if f.kind == "repeat":
            kind = "repeat"
        elif f.kind == "group" or f.path in containers:
            kind = "structure"
        else:
            kind = f.type
        item = {"name": parts[-1], "path": "/" + "/".join(parts), "type": kind,
                "binary": True if kind == "binary" else None}
        if f.is_select_multiple:
            item["selectMultiple"] = True
        out.append(item)
    return out


def attachments(rows: list[dict]) -> list[dict]:
    return [{"name": a["name"], "exists": bool(a["received"])} for a in rows]
