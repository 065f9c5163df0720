"""JSON API of the Enketo integration: a form's web-form links (read, refresh),
an edit URL for a record, public links (list, create, revoke), and the signed
attachment URLs Enketo's media proxy fetches a record's files from."""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from marshmallow import Schema, fields

from server.accounts.auth import actor, requires
from server.enketo import edit, media, public, surveys, web
from server.http.params import load_json

bp = Blueprint("enketo", __name__, url_prefix="/api/v1")


class LinkSchema(Schema):
    label = fields.String(load_default=None)


class EditSchema(Schema):
    return_url = fields.String(load_default=None)


@bp.get("/forms/<name:form_id>/enketo")
@requires("forms.read")
def links(form_id):
    return surveys.enketo_links(g.db, form_id)


@bp.post("/forms/<name:form_id>/enketo")
@requires("forms.manage")
def refresh_links(form_id):
    client, settings = web.required_client()
    [answer] = surveys.enketo_refresh(g.db, client, settings, form_id)
    return answer


@bp.post("/submissions/<path:instance_id>/enketo-edit")
@requires("submissions.review")
def edit_link(instance_id):
    body = load_json(EditSchema()) if request.content_length else {}
    client, settings = web.required_client()
    return_url = body.get("return_url") or f"{settings.server_url}/submissions/{instance_id}"
    return edit.enketo_edit(g.db, client, settings, instance_id, return_url, actor=actor())


@bp.get("/forms/<name:form_id>/public-links")
@requires("forms.manage")
def list_public_links(form_id):
    return {"public_links": public.public_link_list(g.db, form_id, web.server_url())}


@bp.post("/forms/<name:form_id>/public-links")
@requires("forms.manage")
def create_public_link(form_id):
    body = load_json(LinkSchema()) if request.content_length else {}
    link = public.public_link_create(g.db, form_id, body.get("label"), actor=actor())
    web.follow_form(form_id)  # the link's own Enketo survey
    return public.link_view(g.db, link, web.server_url()), 201


@bp.delete("/public-links/<int:link_id>")
@requires("forms.manage")
def revoke_public_link(link_id):
    link = public.public_link_revoke(g.db, link_id, actor=actor())
    web.follow_form(link["form_id"])  # its Enketo survey is deactivated
    return public.link_view(g.db, link, web.server_url())


@bp.get("/enketo/media/<instance_id>/<token>/<name>")
@requires("enketo.media", authenticators=(web.signed_media_holder,))
def signed_media(instance_id, token, name):
    data, kind = media.media_file(g.db, instance_id, name)
    return Response(data, mimetype=kind, headers={"Cache-Control": "private, no-store"})
