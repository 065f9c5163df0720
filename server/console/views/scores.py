"""Scores: reintegration trends as charts, with their numbers as tables and CSV."""

from __future__ import annotations

import csv
import io

from flask import Response, g, request

from server.console.blueprint import bp, page, render
from server.console.charts import dot_whisker, group_label
from server.http.params import threshold_arg
from server.registry.publish import forms_list
from server.scores.trends import trends

GROUPINGS = ("country,quarter", "round", "months_since_return")
SCORES = ("composite", "economic", "social", "psychosocial")
DEFAULT_THRESHOLD = 0.5


def _query() -> dict:
    forms = forms_list(g.db)
    form_id = request.args.get("form_id") or ("rss" if any(
        f["form_id"] == "rss" for f in forms) else (forms[0]["form_id"] if forms else None))
    by = request.args.get("by") if request.args.get("by") in GROUPINGS else GROUPINGS[0]
    threshold = threshold_arg()
    return {"forms": forms, "form_id": form_id, "by": by,
            "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
            "country": request.args.get("country") or None}


def _trends(q: dict) -> dict | None:
    if q["form_id"] is None:
        return None
    return trends(g.db, q["form_id"], q["by"], request.args.get("scoring_version"),
                  q["threshold"], q["country"])


@bp.get("/scores")
@page("submissions.read")
def scores():
    q = _query()
    found = _trends(q)
    charts = [dot_whisker(found["groups"], s, q["threshold"]) for s in SCORES
              if found and any(s in x["scores"] for x in found["groups"])] if found else []
    return render("scores/page.html", q=q, found=found, charts=charts,
                  groupings=GROUPINGS)


@bp.get("/scores.csv")
@page("submissions.read")
def scores_csv():
    q = _query()
    found = _trends(q) or {"groups": [], "by": []}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(found["groups"][0]["group"]) if found["groups"] else []
    writer.writerow(keys + ["group", "score", "n", "mean", "median", "ci95_low",
                            "ci95_high", "at_or_above"])
    for x in found["groups"]:
        for name, s in x["scores"].items():
            ci = s.get("ci95") or [None, None]
            writer.writerow([x["group"][k] for k in keys] + [
                group_label(x["group"]), name, s["n"], s["mean"], s["median"], ci[0], ci[1],
                s.get("at_or_above")])
    name = f"scores-{q['form_id']}-{q['by'].replace(',', '-')}.csv"
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
