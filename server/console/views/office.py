"""The office overview, sync status by tablet and enumerator, and forwarding."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for

from server.accounts.auth import actor
from server.console.blueprint import bp, page, render
from server.forwarding import outbox as forwarding
from server.i18n import gettext as _
from server.review.status import office_overview, sync_status


@bp.get("/")
@page("submissions.read")
def overview():
    return render("overview.html", overview=office_overview(g.db), status=_devices())


@bp.get("/devices")
@page("submissions.read")
def devices():
    return render("devices.html", status=_devices())


def _devices() -> dict:
    return sync_status(g.db, silent_after_days=current_app.config["SILENT_AFTER_DAYS"])


@bp.get("/outbox")
@page("outbox.manage")
def outbox():
    return render("outbox.html", status=forwarding.outbox_status(g.db),
                  dead=forwarding.outbox_list(g.db, limit=200, state=request.args.get("state")))


@bp.post("/outbox/retry")
@page("outbox.manage")
def outbox_retry():
    ids = [i for i in request.form.getlist("instance_id") if i]
    count = forwarding.outbox_retry(g.db, ids or None, actor=actor())
    flash(_("%(count)s record(s) queued for the next forwarding run.", count=count), "ok")
    return redirect(url_for("console.outbox"))
