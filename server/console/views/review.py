"""The supervisor's queues and probable-duplicate review."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from server.accounts.auth import actor
from server.console.blueprint import bp, page, render
from server.console.record import form_language, text_in
from server.errors import FieldsyncError
from server.i18n import current_language
from server.i18n import gettext as _
from server.http.params import int_arg
from server.registry.models import model_for
from server.review import actions
from server.review.record import flatten, submission_get

QUEUE_LIMIT = 100


def _filters() -> dict:
    args = request.args
    return {"form_id": args.get("form_id") or None, "device": args.get("device") or None,
            "enumerator": args.get("enumerator") or None}


@bp.get("/review")
@page("submissions.review")
def review():
    kind = request.args.get("kind", "flagged")
    queue = actions.review_queue(g.db, kind, state=request.args.get("state", "open"),
                                after=int_arg("after", 0), limit=QUEUE_LIMIT, **_filters())
    return render("review/queue.html", queue=queue, kind=kind, kinds=actions.KINDS,
                  filters={k: v for k, v in _filters().items() if v})


@bp.get("/duplicates")
@page("submissions.review")
def duplicates():
    status = request.args.get("status", "open")
    found = actions.review_duplicates(g.db, status=status, after=int_arg("after", 0),
                                     limit=QUEUE_LIMIT, **_filters())
    return render("duplicates/list.html", found=found, status=status)


@bp.get("/duplicates/<int:match_id>")
@page("submissions.review")
def duplicate(match_id):
    match = actions.review_match(g.db, match_id)
    newer = submission_get(g.db, match["submission"]["instance_id"])
    older = submission_get(g.db, match["other"]["instance_id"])
    model = model_for(g.db, older["form_id"], older["form_version"])
    language = form_language(model, current_language()) if model else None
    left, right = flatten(older["data"]), flatten(newer["data"])
    rows = []
    for path in list(dict.fromkeys([*left, *right])):
        f = model.fields.get(path) if model else None
        rows.append({"path": path, "label": text_in(f.labels, language) if f else None,
                     "left": left.get(path), "right": right.get(path),
                     "differs": left.get(path) != right.get(path),
                     "pickable": bool(f and not f.is_container)})
    return render("duplicates/detail.html", match=match, older=older, newer=newer,
                  rows=rows)


@bp.post("/duplicates/<int:match_id>/resolve")
@page("submissions.review")
def resolve(match_id):
    form = request.form
    action = form.get("action", "")
    match = actions.review_match(g.db, match_id)
    older, newer = match["other"]["instance_id"], match["submission"]["instance_id"]
    kwargs: dict = {"comment": form.get("comment") or None}
    if action == "mark_duplicate":
        kwargs["duplicate"] = newer if form.get("duplicate", "newer") == "newer" else older
    elif action == "merge":
        kwargs["base"] = older
        kwargs["take"] = [key[5:] for key, value in form.items()
                          if key.startswith("pick:") and value == "right"]
    elif action != "keep_both":
        raise FieldsyncError("validation_failed", "Choose keep both, mark duplicate or merge.")
    actions.review_resolve(g.db, match_id, action, actor=actor(), **kwargs)
    flash(_("Match %(id)s resolved.", id=match_id), "ok")
    return redirect(url_for("console.duplicate", match_id=match_id))
