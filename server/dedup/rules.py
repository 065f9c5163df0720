"""Pure logic of probable-duplicate detection: no database, no Flask.

What a record looks like to the duplicate rules:

- its **respondent key**, declared by the form (``scoring.respondent``; the RSS:
  ``case_id|survey_round``), normalised so that case, spaces and punctuation do
  not count (``" gin-2024/00017 "`` and ``"GIN 2024 00017"`` are the same person);
- the **person** part of that key (the key without its round field) and the round;
- a **day** (the interview date as a day number, else the day it was received);
- a compact **signature** of its answers: one byte per compared field (0 when
  unanswered, else a hash of the normalised value), in an order fixed by the form
  version (its *layout*). Two signatures of one layout compare in C-speed byte
  operations; a hash collision can only make two answers look equal, so the
  signature over-estimates similarity and is used to pick candidates, never to
  decide: the similarity that is stored is recomputed from the flat answers.

``Rules`` holds the thresholds (configurable per form, see ``server.dedup.detect``).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import asdict, dataclass, fields
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from forms.model import Field, FormModel
from scoring.respondent import respondent_key, respondent_key_fields

EXCLUDED_TYPES = {"binary"}
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_SPACES = re.compile(r"\s+")
_EPOCH = date(1970, 1, 1).toordinal()
_NONZERO = bytes([0] + [1] * 255)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the duplicate rules (defaults; a form may override any)."""

    enabled: bool = True
    round_field: str = "survey_round"      # the key part that names the round
    date_field: str = "interview_date"     # when the interview happened
    reinterview_days: int = 60             # same person, other round, closer than this
    similar_threshold: float = 0.9         # near-identical answers (same device/enumerator)
    similar_window_days: int = 3           # ... within this many days of each other
    typo_similarity: float = 0.8           # case id one edit apart, same round
    typo_days: int = 14                    # ... interviewed at most this many days apart
    case_id_typo: bool = True              # the typo rule itself (off: ids scanned, not typed)
    min_compared: int = 10                 # fields both answered before similarity counts
    max_candidates: int = 100              # per rule and record: a bound, not a sample

    @classmethod
    def from_dict(cls, values: dict | None) -> Rules:
        """Rules from a stored or user-given mapping; unknown names are refused."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown duplicate rule(s): {', '.join(unknown)}; "
                             f"known: {', '.join(known)}")
        out = {}
        for name, value in values.items():
            kind = type(getattr(cls, name))
            out[name] = _coerce(kind, name, value)
        return cls(**out)

    def to_dict(self) -> dict:
        return asdict(self)


def _coerce(kind: type, name: str, value):
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number"}
        raise ValueError(f"duplicate rule {name} must be {expected.get(kind, 'text')}, "
                         f"not {value!r}") from None


# Keys -------------------------------------------------------------------------

def normalise_key_part(value) -> str:
    """Upper case, accents and everything but letters and digits removed."""
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_ALNUM.sub("", text.upper())


class KeyParts(NamedTuple):
    key: str            # normalised full key, parts joined by '|'
    person: str         # normalised key without the round part
    round: str          # normalised round ('' when the key has no round field)


def key_parts(model: FormModel, data: dict, rules: Rules) -> KeyParts | None:
    """The record's normalised respondent key, or None (no key declared or a part empty)."""
    paths = _key_paths(model)
    if not paths:
        return None
    values = [value_at(data, p) for p in paths]
    if any(v in (None, "") for v in values):
        raw = respondent_key(model, data)  # a key given as such (CSV, JSON clients)
        if not raw:
            return None
        values = raw.split("|")
        if len(values) != len(paths):
            return None
    norm = [normalise_key_part(v) for v in values]
    if not all(norm):
        return None
    round_at = _round_at(tuple(paths), rules.round_field)
    if round_at is None:
        return KeyParts("|".join(norm), "|".join(norm), "")
    person = "|".join(n for i, n in enumerate(norm) if i != round_at)
    return KeyParts("|".join(norm), person, norm[round_at])


@lru_cache(maxsize=256)
def _round_at(paths: tuple[str, ...], round_field: str) -> int | None:
    return next((i for i, p in enumerate(paths) if p.rsplit("/", 1)[-1] == round_field), None)


def _key_paths(model: FormModel) -> list[str]:
    """``respondent_key_fields``, kept on the model (a published version never changes)."""
    paths = model.__dict__.get("_duplicate_key_paths")
    if paths is None:
        paths = model.__dict__["_duplicate_key_paths"] = respondent_key_fields(model)
    return paths


def deletion_variants(text: str) -> set[str]:
    """The text and every string made by deleting one character from it.

    Two strings within one edit (insert, delete, substitute, swap neighbours)
    always share one of these, so an index over them finds typo'd keys with a
    handful of lookups instead of a scan.
    """
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


# Dates --------------------------------------------------------------------------

def day_number(value) -> int | None:
    """Days since 1970-01-01 of an ISO date or date-time, or None if unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10]).toordinal() - _EPOCH
    except ValueError:
        return None


# Answers and similarity ------------------------------------------------------------

def compared_fields(model: FormModel, rules: Rules) -> list[Field]:
    """The answers similarity looks at: questions outside repeats, without the key,
    the date, notes, uploads and calculated or device-filled values. Kept on the
    model (a published version never changes)."""
    cache = model.__dict__.setdefault("_duplicate_fields", {})
    marker = (rules.date_field,)
    if marker not in cache:
        skip = set(_key_paths(model)) | {rules.date_field}
        cache[marker] = ComparedFields(
            f for f in model.questions()
            if f.kind == "question" and f.repeat is None and f.path not in skip
            and f.type not in EXCLUDED_TYPES and not f.readonly and not f.calculate
        )
    return cache[marker]


def layout_id(flds: list[Field]) -> int:
    """A number naming the order of signature bytes (the compared fields)."""
    if isinstance(flds, ComparedFields):
        return flds.layout
    return zlib.crc32("\x1f".join(f.path for f in flds).encode())


def normalise_value(fld: Field, value) -> str | None:
    """An answer as compared: None if unanswered; numbers, multi-selects and text
    in one canonical spelling each."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    text = str(value).strip()
    if not text:
        return None
    if "  " in text or "\t" in text or "\n" in text:
        text = _SPACES.sub(" ", text)
    if fld.is_select_multiple:
        return " ".join(sorted(text.split(" ")))
    if fld.type in ("int", "decimal"):
        try:
            return _number(float(text))
        except ValueError:
            return text.casefold()
    return text.casefold()


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def raw_answers(flds: list[Field], data: dict) -> list:
    """A record's answers to ``flds`` as sent, in order (None when unanswered),
    read from its data with paths split once and each group read once."""
    groups = flds.groups if isinstance(flds, ComparedFields) else _read_groups(flds)
    out: list = [None] * len(flds)
    for parts, members in groups:
        node = data
        for part in parts:
            node = node.get(part) if type(node) is dict else None
        if type(node) is not dict:
            continue
        for at, name in members:
            value = node.get(name)
            if not isinstance(value, (dict, list)):
                out[at] = value
    return out


def answers_of(flds: list[Field], data: dict) -> list[str | None]:
    """A record's normalised answers to ``flds``, in order (``normalise_value``
    of each ``value_at``)."""
    return normalise_values(flds, raw_answers(flds, data))


def answers_signature(flds: list[Field], data: dict) -> bytes:
    """``signature(answers_of(flds, data))`` in one pass over the data, group by
    group, a plain-text answer seen before going straight to its byte."""
    groups = flds.signed if isinstance(flds, ComparedFields) else _signed_groups(flds)
    memo = _RAW_BYTE_MEMO
    out = bytearray(len(flds))
    for parts, members in groups:
        node = data
        for part in parts:
            node = node.get(part) if type(node) is dict else None
        if type(node) is not dict:
            continue
        get = node.get
        for at, name, fld, is_plain in members:
            value = get(name)
            if value is None:
                continue
            if is_plain and type(value) is str:  # the common case: a choice name
                b = memo.get(value)
                if b is None:
                    text = _plain_text(value)
                    b = 0 if text is None else _byte(text)
                    if len(memo) < _MEMO_SIZE:
                        memo[value] = b
                out[at] = b
            elif not isinstance(value, (dict, list)):
                text = normalise_value(fld, value)
                if text is not None:
                    out[at] = _byte(text)
    return bytes(out)


def _byte(text: str) -> int:
    return zlib.crc32(text.encode()) % 255 + 1


class ComparedFields(list):
    """The compared fields of a form version, with how to read each (made once)."""

    def __init__(self, flds):
        super().__init__(flds)
        self.groups = _read_groups(self)
        self.plain = [_is_plain(f) for f in self]
        self.signed = _signed_groups(self)
        self.layout = zlib.crc32("\x1f".join(f.path for f in self).encode())


def _read_groups(flds: list[Field]) -> list[tuple[tuple[str, ...], list[tuple]]]:
    """How to read the fields' answers: per group (path parts), each field's
    (position, name)."""
    groups: dict[tuple[str, ...], list[tuple]] = {}
    for at, f in enumerate(flds):
        *parent, name = f.path.split("/")
        groups.setdefault(tuple(parent), []).append((at, name))
    return list(groups.items())


def _signed_groups(flds: list[Field]) -> list[tuple[tuple[str, ...], list[tuple]]]:
    """``_read_groups`` with each field's (position, name, field, plain or not)."""
    return [(parts, [(at, name, flds[at], _is_plain(flds[at])) for at, name in members])
            for parts, members in _read_groups(flds)]


def _is_plain(fld: Field) -> bool:
    """Whether the field's answers are compared as plain text."""
    return fld.type not in ("int", "decimal") and not fld.is_select_multiple


def normalise_values(flds: list[Field], values) -> list[str | None]:
    """``normalise_value`` of each field's value (stored answers, in order)."""
    kinds = flds.plain if isinstance(flds, ComparedFields) else [_is_plain(f) for f in flds]
    plain = _PLAIN_MEMO
    out: list[str | None] = []
    for fld, is_plain, value in zip(flds, kinds, values):
        if is_plain and type(value) is str:
            text = plain.get(value, _UNSEEN)
            if text is _UNSEEN:
                text = _plain_text(value)
                if len(plain) < _MEMO_SIZE:
                    plain[value] = text
            out.append(text)
        else:
            out.append(normalise_value(fld, value))
    return out


def signature(values: list[str | None]) -> bytes:
    """One byte per compared field: 0 unanswered, else 1..255 from a hash of the
    value (``_byte``). Ingest uses ``answers_signature``, which gives the same bytes."""
    return bytes(0 if v is None else _byte(v) for v in values)


def _plain_text(text: str) -> str | None:
    """``normalise_value`` of a plain-text answer."""
    text = text.strip()
    if "  " in text or "\t" in text or "\n" in text:
        text = _SPACES.sub(" ", text)
    return text.casefold() or None


# Answers repeat (choice names, yes/no): their normalised text and signature
# byte are kept, up to a bound, so each record does not compute them again.
_MEMO_SIZE = 50_000
_PLAIN_MEMO: dict[str, str | None] = {}
_RAW_BYTE_MEMO: dict[str, int] = {}
_UNSEEN = object()


def summary(sig: bytes) -> tuple[int, int] | None:
    """A 2 x 64-bit summary of a signature for the typo index: (answered, sketch),
    bit i of each for compared field i: answered or not, and one bit of its hash.
    None when the form compares more than 64 fields (no summary, every candidate
    is then checked on its answers)."""
    if len(sig) > 64:
        return None
    if not sig:
        return 0, 0
    answered = int(sig.translate(_ANSWERED_DIGIT)[::-1], 2)  # one binary digit per field
    sketch = int(sig.translate(_LOW_BIT_DIGIT)[::-1], 2)
    return _signed(answered), _signed(sketch)


def summary_estimate(mine: tuple[int, int], answered: int, sketch: int) -> tuple[float, int]:
    """(similarity, fields both answered) from two summaries; never below the true
    similarity: equal answers have equal bits, so each differing bit is a differing
    answer (about half of the differing answers show)."""
    both_mask = (mine[0] & answered) & _MASK64
    both = both_mask.bit_count()
    if not both:
        return 0.0, 0
    differ = ((mine[1] ^ sketch) & both_mask).bit_count()
    return (both - differ) / both, both


def kept_by_summary(mine: tuple[int, int] | None, layout: int, minimum: int,
                    threshold: float, rows, at: int) -> list:
    """Of ``rows`` (tuples holding a layout, answered and sketch at ``at``,
    ``at + 1``, ``at + 2``), those whose summary does not rule out ``threshold``
    over at least ``minimum`` fields both answered (``summary_estimate``). A row
    of another layout, or either side without a summary, is kept: only its
    answers can tell. One loop for a record's candidates (a dense case id has
    dozens), without a call per candidate."""
    if mine is None:
        return list(rows)
    mine_answered, mine_sketch = mine[0] & _MASK64, mine[1]
    kept = []
    for row in rows:
        answered = row[at + 1]
        if answered is None or row[at] != layout:
            kept.append(row)
            continue
        both_mask = mine_answered & answered
        both = both_mask.bit_count()
        est = (both - ((mine_sketch ^ row[at + 2]) & both_mask).bit_count()) / both \
            if both else 0.0
        if both >= minimum and est >= threshold:
            kept.append(row)
    return kept


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


_ANSWERED_DIGIT = b"0" + b"1" * 255
_LOW_BIT_DIGIT = bytes(b"01"[i & 1] for i in range(256))
_MASK64 = (1 << 64) - 1


class SignatureProbe:
    """A record's signature prepared for comparing against many others quickly."""

    def __init__(self, sig: bytes):
        self.n = len(sig)
        self.value = int.from_bytes(sig, "big")
        self.mask = int.from_bytes(sig.translate(_NONZERO), "big")
        self.answered = self.mask.bit_count()

    def estimate(self, other: bytes) -> tuple[float, int]:
        """(similarity, fields both answered) by signature; never below the true one."""
        n = self.n
        if len(other) != n:
            return 0.0, 0
        other_mask = int.from_bytes(other.translate(_NONZERO), "big")
        both = (self.mask & other_mask).bit_count()
        if not both:
            return 0.0, 0
        neither = n - self.answered - other_mask.bit_count() + both
        diff = (self.value ^ int.from_bytes(other, "big")).to_bytes(n, "big")
        return (diff.count(0) - neither) / both, both


def similarity(a: list[str | None], b: list[str | None]) -> tuple[float, int]:
    """(share of equal answers among fields both answered, how many both answered)."""
    both = equal = 0
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        both += 1
        equal += x == y
    return (equal / both if both else 0.0), both


def differences(flds: list[Field], a: list[str | None], b: list[str | None]) -> list[dict]:
    """The compared fields whose answers differ (for showing a supervisor why)."""
    return [{"field": f.path, "this": x, "other": y}
            for f, x, y in zip(flds, a, b) if x != y]


def value_at(data: dict, path: str):
    node = data
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if isinstance(node, (dict, list)):
        return None
    return node
