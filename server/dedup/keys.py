"""Who a record is about and when: its person key, its round and its day.

- The **respondent key** is declared by the form (``scoring.respondent``; the
  RSS: ``case_id|survey_round``), normalised so that case, accents, spaces and
  punctuation do not count (``" gin-2024/00017 "`` and ``"GIN 2024 00017"`` are
  the same person).
- The **person key** is that key without its round part; the round is the
  part named by the rules' ``round_field``.
- The **day** is the interview date as a day number, else the day the record
  was received.

Typos of a person key: two keys one edit apart (insert, delete, substitute,
swap two neighbours) always share a *deletion variant* (the key with one
character deleted), so a map from variant to keys finds them in a dozen
lookups (``server.dedup.typo_map``).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from forms.model import FormModel, PerModel
from forms.record import answer_at
from scoring.respondent import normalise_key_part, respondent_key, respondent_key_fields

_EPOCH = date(1970, 1, 1).toordinal()

# The paths of the fields making up a form version's respondent key.
key_paths = PerModel(respondent_key_fields)


class KeyParts(NamedTuple):
    key: str            # normalised full key, parts joined by '|'
    person: str         # normalised key without the round part
    round: str          # normalised round ('' when the key has no round field)


def key_parts(model: FormModel, data: dict, round_field: str) -> KeyParts | None:
    """The record's normalised respondent key, or None (no key declared or a part empty)."""
    paths = key_paths(model)
    if not paths:
        return None
    values = [answer_at(data, p) for p in paths]
    if any(v in (None, "") or isinstance(v, list) for v in values):
        raw = respondent_key(model, data)  # a key given as such (CSV, JSON clients)
        if not raw:
            return None
        values = raw.split("|")
        if len(values) != len(paths):
            return None
    norm = [normalise_key_part(v) for v in values]
    if not all(norm):
        return None
    round_at = next((i for i, p in enumerate(paths) if p.rsplit("/", 1)[-1] == round_field),
                    None)
    if round_at is None:
        return KeyParts("|".join(norm), "|".join(norm), "")
    person = "|".join(n for i, n in enumerate(norm) if i != round_at)
    return KeyParts("|".join(norm), person, norm[round_at])


def day_number(value) -> int | None:
    """Days since 1970-01-01 of an ISO date or date-time, or None if unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10]).toordinal() - _EPOCH
    except ValueError:
        return None


def deletion_variants(text: str) -> set[str]:
    """The text and every string made by deleting one character from it."""
    return {text} | {text[:i] + text[i + 1:] for i in range(len(text))}


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion,
    substitution or swap of two neighbouring characters (the usual typos): their
    optimal-string-alignment distance is at most 1 (rapidfuzz, in C)."""
    return OSA.distance(a, b, score_cutoff=1) <= 1


def within_one_edit_of(text: str, others: list[str]) -> list[int]:
    """The positions in ``others`` of the texts ``within_one_edit`` of ``text``,
    in order; compared in C, so a list of thousands costs tens of microseconds."""
    near = process.extract(text, others, scorer=OSA.distance, score_cutoff=1, limit=None)
    return sorted(at for _, _, at in near)
