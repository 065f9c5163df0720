"""Forms: the list, publishing by upload, a form's versions, state, media,
duplicate rules, scoring spec, and the Collect QR code."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from server.accounts.auth import actor
from server.accounts.users import user_list
from server.console import collect_qr
from server.console.blueprint import bp, may, page, render
from server.console.views import enketo as enketo_views
from server.enketo import web as enketo
from server.errors import FieldsyncError
from server.http.urls import base_url
from server.i18n import gettext as _
from server.openrosa import media
from server.registry import publish as registry
from server.registry.models import model_for, spec_for
from server.review.actions import review_rules
from server.scores.specs import scoring_list


@bp.get("/forms")
@page("forms.read")
def forms():
    return render("forms/list.html", forms=registry.forms_list(g.db))


@bp.post("/forms")
@page("forms.publish")
def publish():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FieldsyncError("file_missing", "Choose the XLSForm file to publish.")
    answer = registry.forms_publish(g.db, upload.read(), upload.filename, actor=actor())
    enketo.follow_form(answer["form_id"])  # its web-form links, when Enketo is set up
    if answer["created"]:
        flash(_("Published %(form)s version %(version)s.", form=answer["form_id"],
                version=answer["version"]), "ok")
    else:
        flash(_("%(form)s version %(version)s was already published with this content.",
                form=answer["form_id"], version=answer["version"]), "ok")
    return redirect(url_for("console.form", form_id=answer["form_id"]))


@bp.get("/forms/<name:form_id>")
@page("forms.read")
def form(form_id):
    return _detail(form_id)


@bp.post("/forms/<name:form_id>/collect-qr")
@page("devices.configure")
def collect_qr_for(form_id):
    name = request.form.get("enumerator") or None
    if name and name not in {u["name"] for u in _enumerators()}:
        raise FieldsyncError("user_unknown", f"No enumerator named '{name}'.")
    return _detail(form_id, username=name, password=request.form.get("password") or None)


def _detail(form_id: str, username: str | None = None, password: str | None = None):
    found = registry.form_get(g.db, form_id)
    current = found["current_version"]
    model = model_for(g.db, form_id, current) if current else None
    spec = spec_for(g.db, model) if model is not None else None
    settings = collect_qr.collect_settings(
        base_url(), username=username, password=password,
        project=f"fieldsync {request.host}")
    payload = collect_qr.payload(settings)
    return render(
        "forms/detail.html", form=found,
        media=media.manifest_files(g.db, form_id, current, None) if current else [],
        rules=review_rules(g.db, form_id)["rules"],
        spec=spec.version if spec is not None else None,
        specs=scoring_list(g.db, form_id),
        enumerators=_enumerators() if may("devices.configure") else [],
        qr_payload=payload, qr_image=collect_qr.svg_data_uri(payload),
        qr_user=username, qr_with_password=bool(username and password),
        **enketo_views.form_context(form_id))


def _enumerators() -> list[dict]:
    return [u for u in user_list(g.db) if u["role"] == "enumerator" and not u["disabled_at"]]


@bp.post("/forms/<name:form_id>/state")
@page("forms.manage")
def form_state(form_id):
    registry.form_set_state(g.db, form_id, request.form.get("state", ""), actor=actor())
    enketo.follow_form(form_id)  # closing or closed: its web-form links stop accepting
    flash(_("The form's state was changed."), "ok")
    return redirect(url_for("console.form", form_id=form_id))


@bp.post("/forms/<name:form_id>/media")
@page("forms.publish")
def form_media(form_id):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FieldsyncError("file_missing", "Choose the media file to upload.")
    version = registry.form_get(g.db, form_id)["current_version"]
    media.media_add(g.db, form_id, version, upload.filename, upload.mimetype,
                    upload.read(), actor=actor())
    flash(_("Media file %(name)s added.", name=upload.filename), "ok")
    return redirect(url_for("console.form", form_id=form_id))


@bp.post("/forms/<name:form_id>/rules")
@page("forms.manage")
def form_rules(form_id):
    held = review_rules(g.db, form_id)["rules"]
    changes = {}
    for key, value in held.items():
        raw = request.form.get(key)
        if raw is None:
            continue
        changes[key] = _cast(key, raw, value)
    review_rules(g.db, form_id, {k: v for k, v in changes.items() if v != held[k]},
                 actor=actor())
    flash(_("Duplicate rules saved."), "ok")
    return redirect(url_for("console.form", form_id=form_id))


def _cast(key: str, raw: str, like):
    try:
        if isinstance(like, bool):
            return raw == "yes"
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
    except ValueError:
        raise FieldsyncError("validation_failed", f"'{key}' must be a number.",
                             {"fields": {key: ["not a number"]}}) from None
    return raw.strip()
