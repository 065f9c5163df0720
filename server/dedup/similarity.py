"""How alike two records' answers are.

The **compared fields** of a form version are its questions outside repeats,
but for the respondent key, the interview date, notes, uploads and calculated
or device-filled values. An answer is compared in one canonical spelling
(``normalise_value``). The **similarity** of two records is the share of
equal answers among the compared fields both answered (``similarity``); it is
what a match stores, computed from the records' answers.

To pick candidates without reading their answers, each record keeps a
**summary** of its answers: two 64-bit numbers, bit i for compared field i:
whether it was answered, and one bit of a hash of its answer. Two equal
answers have equal bits, so a differing bit is a differing answer (about half
the differing answers show): ``could_match`` judges from two summaries alone
whether two records may reach a threshold, never ruling out a pair whose
answers would. A form version comparing more than 64 fields has no summary;
the fields' order is its *layout*, and only summaries of one layout compare.
"""

from __future__ import annotations

import re
import zlib

from forms.model import Field, FormModel, PerModel
from server.dedup.keys import key_paths

EXCLUDED_TYPES = {"binary"}
_SPACES = re.compile(r"\s+")
_MASK64 = (1 << 64) - 1
# Answers repeat (choice names, yes/no): the normalised text and summary bit of
# this many answer texts are kept, so that each record does not work them out
# again.
REMEMBERED_ANSWERS = 50_000


class ComparedFields(list):
    """The compared fields of a form version, in order, with how to read them:
    ``groups``, per group (path parts), each field's (position, name, field,
    whether its answers compare as plain text)."""

    def __init__(self, flds):
        super().__init__(flds)
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for at, f in enumerate(self):
            *parent, name = f.path.split("/")
            groups.setdefault(tuple(parent), []).append((at, name, f, _is_plain(f)))
        self.groups = list(groups.items())
        self.plain = [_is_plain(f) for f in self]
        self.layout = zlib.crc32("\x1f".join(f.path for f in self).encode())


def _compared(model: FormModel, date_field: str) -> ComparedFields:
    skip = set(key_paths(model)) | {date_field}
    return ComparedFields(
        f for f in model.questions()
        if f.kind == "question" and f.repeat is None and f.path not in skip
        and f.type not in EXCLUDED_TYPES and not f.readonly and not f.calculate
    )


# compared_fields(model, date_field): what similarity looks at in that form version
compared_fields = PerModel(_compared)


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


def _is_plain(fld: Field) -> bool:
    """Whether the field's answers are compared as plain text."""
    return fld.type not in ("int", "decimal") and not fld.is_select_multiple


def _plain_text(text: str) -> str | None:
    """``normalise_value`` of a plain-text answer."""
    text = text.strip()
    if "  " in text or "\t" in text or "\n" in text:
        text = _SPACES.sub(" ", text)
    return text.casefold() or None


def _bit(text: str) -> int:
    """The summary's bit of an answer's hash (the low bit of the 1..255 value
    the summaries stored since the first store were made from: keep it)."""
    return (zlib.crc32(text.encode()) % 255 + 1) & 1


_PLAIN: dict[str, str | None] = {}   # answer text -> normalised (plain-text fields)
_PLAIN_BIT: dict[str, int] = {}      # answer text -> summary bit, -1 when unanswered


def answers_of(flds: ComparedFields, data: dict) -> list[str | None]:
    """A record's normalised answers to the compared fields, in order."""
    out: list = [None] * len(flds)
    for parts, members in flds.groups:
        node = _group(data, parts)
        if node is None:
            continue
        for at, name, _fld, _plain in members:
            value = node.get(name)
            if not isinstance(value, (dict, list)):
                out[at] = value
    return normalise_values(flds, out)


def normalise_values(flds: ComparedFields, values) -> list[str | None]:
    """``normalise_value`` of each field's value (answers as sent or as stored)."""
    plain = _PLAIN
    out: list[str | None] = []
    for fld, is_plain, value in zip(flds, flds.plain, values):
        if is_plain and type(value) is str:
            text = plain.get(value, _UNSEEN)
            if text is _UNSEEN:
                text = _plain_text(value)
                if len(plain) < REMEMBERED_ANSWERS:
                    plain[value] = text
            out.append(text)
        else:
            out.append(normalise_value(fld, value))
    return out


_UNSEEN = object()


def summary(values: list[str | None]) -> tuple[int, int] | None:
    """The (answered, sketch) summary of normalised answers, as signed 64-bit
    numbers (as the store keeps them): bit i of ``answered`` set when answer i
    is given, bit i of ``sketch`` one bit of its hash (``_bit``); None beyond
    64 answers. Ingest computes it from a record's data (``summary_of``)."""
    if len(values) > 64:
        return None
    answered = sketch = 0
    for at, value in enumerate(values):
        if value is not None:
            answered |= 1 << at
            sketch |= _bit(value) << at
    return _signed(answered), _signed(sketch)


def summary_of(flds: ComparedFields, data: dict) -> tuple[int, int] | None:
    """``summary(answers_of(flds, data))`` in one pass over the data, group by
    group, a plain-text answer seen before going straight to its bit."""
    if len(flds) > 64:
        return None
    answered = sketch = 0
    memo = _PLAIN_BIT
    for parts, members in flds.groups:
        node = _group(data, parts)
        if node is None:
            continue
        get = node.get
        for at, name, fld, is_plain in members:
            value = get(name)
            if value is None:
                continue
            if is_plain and type(value) is str:  # the common case: a choice name
                bit = memo.get(value)
                if bit is None:
                    text = _plain_text(value)
                    bit = -1 if text is None else _bit(text)
                    if len(memo) < REMEMBERED_ANSWERS:
                        memo[value] = bit
            elif isinstance(value, (dict, list)):
                continue
            else:
                text = normalise_value(fld, value)
                bit = -1 if text is None else _bit(text)
            if bit >= 0:
                answered |= 1 << at
                sketch |= bit << at
    return _signed(answered), _signed(sketch)


def _group(data: dict, parts: tuple[str, ...]) -> dict | None:
    node = data
    for part in parts:
        node = node.get(part) if type(node) is dict else None
    return node if type(node) is dict else None


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def could_match(mine: tuple[int, int] | None, layout: int, minimum: int, threshold: float,
                rows, at: int) -> list:
    """Of ``rows`` (tuples holding another record's layout, answered and sketch
    at ``at``, ``at + 1``, ``at + 2``), those whose answers could be at least
    ``threshold`` similar to mine (summary ``mine``, of ``layout``) over at least
    ``minimum`` fields both answered, judged from the two summaries: each
    differing bit is a differing answer, so this never drops a row whose
    answers would match. A row of another layout, or either side without a
    summary, is kept: only the answers can tell. One loop for a record's
    candidates (a dense case id has dozens)."""
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
        estimate = (both - ((mine_sketch ^ row[at + 2]) & both_mask).bit_count()) / both \
            if both else 0.0
        if both >= minimum and estimate >= threshold:
            kept.append(row)
    return kept


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
