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

``Rules`` holds the thresholds (configurable per form, see ``server.dedup``).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import asdict, dataclass, fields
from datetime import date

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


@dataclass(frozen=True)
class KeyParts:
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
    round_at = next((i for i, p in enumerate(paths)
                     if p.rsplit("/", 1)[-1] == rules.round_field), None)
    person = "|".join(n for i, n in enumerate(norm) if i != round_at)
    return KeyParts(key="|".join(norm), person=person,
                    round=norm[round_at] if round_at is not None else "")


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


def deletion_rows(text: str) -> list[tuple[str, int]]:
    """``deletion_variants`` with what was deleted: (variant, position * 256 +
    code of the deleted character), ``-1`` for the text itself; one row per
    distinct variant, so the typo index can give back the full key of a row
    (``restore``) without another lookup. Keys are ASCII once normalised."""
    rows = {text: -1}
    for i in range(len(text)):
        rows.setdefault(text[:i] + text[i + 1:], i * 256 + ord(text[i]))
    return list(rows.items())


def restore(variant: str, deleted: int) -> str:
    """The key a typo-index row was made from (inverse of ``deletion_rows``)."""
    if deleted < 0:
        return variant
    at = deleted >> 8
    return variant[:at] + chr(deleted & 0xFF) + variant[at:]


def typo_scope(form_id: str, round_: str) -> int:
    """A signed 64-bit integer naming (form, round) in the typo index (two CRCs:
    cheap and stable across processes; a collision between two of a store's few
    scopes is vanishingly unlikely)."""
    data = f"{form_id}\x1f{round_}".encode()
    value = (zlib.crc32(data) << 32) | zlib.adler32(data)
    return value - (1 << 64) if value >= (1 << 63) else value


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion,
    substitution or swap of two neighbouring characters (the usual typos)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True  # substitution
        return (i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i]
                and a[i + 2:] == b[i + 2:])  # neighbours swapped
    if la > lb:
        return a[i + 1:] == b[i:]
    return a[i:] == b[i + 1:]


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


def answers_of(flds: list[Field], data: dict) -> list[str | None]:
    """A record's normalised answers to ``flds``, in order, read from its data
    (the same as ``normalise_value`` of each ``value_at``, with paths split once)."""
    plan = flds.plan if isinstance(flds, ComparedFields) else _read_plan(flds)
    out = []
    for fld, parts, plain_text in plan:
        node = data
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or isinstance(node, (dict, list)):
            out.append(None)
        elif plain_text and type(node) is str:
            text = node.strip()  # the common case, inline
            if "  " in text or "\t" in text or "\n" in text:
                text = _SPACES.sub(" ", text)
            out.append(text.casefold() or None)
        else:
            out.append(normalise_value(fld, node))
    return out


class ComparedFields(list):
    """The compared fields of a form version, with how to read each (made once)."""

    def __init__(self, flds):
        super().__init__(flds)
        self.plan = _read_plan(self)
        self.layout = zlib.crc32("\x1f".join(f.path for f in self).encode())


def _read_plan(flds: list[Field]) -> list[tuple[Field, tuple[str, ...], bool]]:
    """(field, path parts, answer is plain text) for each field."""
    return [(f, tuple(f.path.split("/")),
             f.type not in ("int", "decimal") and not f.is_select_multiple) for f in flds]


def signature(values: list[str | None]) -> bytes:
    """One byte per compared field: 0 unanswered, else 1..255 from a hash of the value."""
    return bytes(0 if v is None else zlib.crc32(v.encode()) % 255 + 1 for v in values)


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
