"""Words the console shows for stored values (roles, states, flags, scores), so
that each goes through the message catalogue; the stored value itself never
changes with the language."""

from __future__ import annotations

from server.i18n import N_, gettext

LABELS: dict[str, dict[str, str]] = {
    "role": {"admin": N_("admin"), "supervisor": N_("supervisor"),
             "enumerator": N_("enumerator"), "analyst": N_("analyst"), "peer": N_("peer")},
    "state": {"current": N_("current"), "superseded": N_("superseded"),
              "conflict": N_("conflict"), "quarantined": N_("quarantined"),
              "open": N_("open"), "closing": N_("closing"), "closed": N_("closed")},
    "review": {"received": N_("received"), "has_issues": N_("has issues"),
               "approved": N_("approved"), "rejected": N_("rejected"),
               "duplicate": N_("duplicate")},
    "flag": {"invalid": N_("invalid"), "conflict": N_("conflict"),
             "probable_duplicate": N_("probable duplicate"), "duplicate": N_("duplicate"),
             "edit_conflict": N_("edit conflict"), "duplicate_of": N_("duplicate of"),
             "missing_attachments": N_("missing attachments"),
             "attachment_missing": N_("attachment missing")},
    "score": {"economic": N_("Economic"), "social": N_("Social"),
              "psychosocial": N_("Psychosocial"), "composite": N_("Composite")},
    "queue": {"flagged": N_("Flagged"), "conflicts": N_("Conflicts"),
              "duplicates": N_("Probable duplicates"), "quarantined": N_("Quarantined")},
    "resolution": {"keep_both": N_("keep both"), "mark_duplicate": N_("mark duplicate"),
                   "merge": N_("merge")},
    "rule": {"same_key": N_("same case and round"), "case_id_typo": N_("case ID typo"),
             "near_identical": N_("near-identical answers"),
             "reinterview_too_close": N_("re-interviewed too soon")},
    "setting": {"enabled": N_("Look for probable duplicates"),
                "round_field": N_("Question that names the round"),
                "date_field": N_("Question that holds the interview date"),
                "reinterview_days": N_("Same person, other round: days apart at least"),
                "similar_threshold": N_("Near-identical answers: share alike (0 to 1)"),
                "similar_window_days": N_("Near-identical answers: within days"),
                "typo_similarity": N_("Case ID typo: similarity (0 to 1)"),
                "typo_days": N_("Case ID typo: within days"),
                "case_id_typo": N_("Look for case ID typos"),
                "min_compared": N_("Questions both answered before comparing"),
                "max_candidates": N_("Records compared at most, per rule")},
    "problem": {"flagged": N_("flagged record"), "conflict": N_("conflict")},
    "origin": {"door": N_("Door"), "device_id": N_("Tablet"), "user": N_("Sent by"),
               "office": N_("Office"), "batch_id": N_("Batch"),
               "received_at": N_("Received by the office"),
               "office_seq": N_("Office's change sequence"),
               "scoring_version": N_("Office's scoring spec"),
               "forwarded_by": N_("Forwarded by"),
               "forwarded_received_at": N_("Received from the office")},
    "by": {"country,quarter": N_("Country and quarter"), "round": N_("Survey round"),
           "months_since_return": N_("Months since return")},
}


def label(kind: str, value, find=None) -> str:
    """The translated word for a stored value (the value itself when unknown);
    ``find`` is a catalogue's lookup (default: the request's language)."""
    text = LABELS.get(kind, {}).get(value)
    if not text:
        return "" if value is None else str(value)
    return find(text) if find else gettext(text)


def role_label(role: str) -> str:
    return label("role", role)


def reasons_label(reasons: list, find=None) -> str:
    """A match's reasons as words: ``case ID typo, near-identical answers``."""
    return ", ".join(label("rule", r.get("rule") if isinstance(r, dict) else r, find)
                     for r in reasons or [])


def bound_labels(find) -> dict:
    """``label``, ``role_label`` and ``reasons_label`` for one render, bound to the
    request's catalogue once (a table page calls them hundreds of times)."""
    return {"label": lambda kind, value: label(kind, value, find),
            "role_label": lambda role: label("role", role, find),
            "reasons_label": lambda reasons: reasons_label(reasons, find)}
