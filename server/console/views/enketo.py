"""Web forms in Enketo on the console: a form's links (refresh), its public
links (create, revoke), and "Edit in Enketo" on a record's page."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from server.accounts.auth import actor
from server.console.blueprint import bp, may, page
from server.enketo import edit, public, surveys, web
from server.i18n import gettext as _


@bp.app_context_processor
def _enketo_ready() -> dict:
    """Whether Enketo is set up (the record page's "Edit in Enketo" button)."""
    return {"enketo_ready": web.settings().configured}


def form_context(form_id: str) -> dict:
    """What the form page shows of its web forms and public links."""
    return {"enketo": surveys.enketo_links(g.db, form_id),
            "public_links": public.public_link_list(g.db, form_id, web.server_url())
            if may("forms.manage") else []}


@bp.post("/forms/<name:form_id>/enketo")
@page("forms.manage")
def enketo_refresh(form_id):
    client, settings = web.required_client()
    surveys.enketo_refresh(g.db, client, settings, form_id)
    flash(_("The web-form links were refreshed."), "ok")
    return redirect(url_for("console.form", form_id=form_id))


@bp.post("/forms/<name:form_id>/public-links")
@page("forms.manage")
def public_link_create(form_id):
    public.public_link_create(g.db, form_id, request.form.get("label"), actor=actor())
    web.follow_form(form_id)
    flash(_("Public link created."), "ok")
    return redirect(url_for("console.form", form_id=form_id))


@bp.post("/public-links/<int:link_id>/revoke")
@page("forms.manage")
def public_link_revoke(link_id):
    link = public.public_link_revoke(g.db, link_id, actor=actor())
    web.follow_form(link["form_id"])
    flash(_("Public link revoked: it accepts nothing more."), "ok")
    return redirect(url_for("console.form", form_id=link["form_id"]))


@bp.post("/submissions/<path:instance_id>/enketo-edit")
@page("submissions.review")
def enketo_edit(instance_id):
    client, settings = web.required_client()
    back = settings.server_url + url_for("console.record", instance_id=instance_id)
    answer = edit.enketo_edit(g.db, client, settings, instance_id, back, actor=actor())
    return redirect(answer["edit_url"], code=303)
