"""Data from outside the record: secondary instances (the form's choice lists and
its CSV, XML and GeoJSON media files), ``pulldata``, ``jr:itext``, ``version``,
and ``randomize``.

A secondary instance is a document whose root holds ``item`` elements
(``instance('villages')/root/item[name = /data/village]/label``). The form's
``FormExpressions`` provides the choice lists and the version's ``FormMedia``
the files; both hand out ``SecondaryInstance`` objects, which keep an index per
key column for ``pulldata``. When a file the form names has not been uploaded
(or cannot be read) the expression raises ``Unavailable``, and validation
leaves it unchecked instead of reporting an error.
"""

from __future__ import annotations

import hashlib
import math
import random

from forms.errors import FormsError
from forms.xpath.values import to_num, to_str

NOT_CHECKED = "expression_not_checked"


class Unavailable(FormsError):
    """An expression needs a secondary instance the server does not hold."""

    def __init__(self, name: str):
        super().__init__(NOT_CHECKED, f"the data of instance '{name}' is not available "
                         "(its media file is not uploaded)", {"instance": name})
        self.instance = name


class SecondaryInstance:
    """A secondary instance's document, with ``first(key, value)`` lookups."""

    __slots__ = ("name", "doc", "_index")

    def __init__(self, name: str, doc):
        self.name = name
        self.doc = doc
        self._index: dict[str, dict[str, object]] = {}

    def items(self) -> list:
        roots = [k for k in self.doc.element_children()]
        return roots[0].children("item") if roots else []

    def names(self, key: str = "name"):
        """Every value of the items' ``key`` child (a choice list's names)."""
        self.first(key, "")
        return self._index[key].keys()

    def first(self, key: str, value: str):
        """The first item whose ``key`` child holds ``value``, or None."""
        index = self._index.get(key)
        if index is None:
            index = {}
            for item in self.items():
                kids = item.children(key)
                text = kids[0].text() if kids else ""
                index.setdefault(text, item)
            self._index[key] = index
        return index.get(value)


def _instance(ctx, name: str) -> SecondaryInstance:
    form = ctx.env.form
    if form is None:
        raise ValueError(f"there is no instance '{name}'")
    return form.instance(name, ctx.env.media)


def f_instance(ctx, name):
    return [_instance(ctx, to_str(name)).doc]


def f_pulldata(ctx, name, column, key, value):
    """pulldata('list', 'col', 'key_col', value): 'col' of the first item whose
    'key_col' is value; "" when none is."""
    item = _instance(ctx, to_str(name)).first(to_str(key), to_str(value))
    if item is None:
        return ""
    kids = item.children(to_str(column))
    return kids[0].text() if kids else ""


def f_itext(ctx, text_id):
    """The form's translated text for the id, in its default language."""
    form = ctx.env.form
    return form.itext(to_str(text_id)) if form is not None else ""


def f_version(ctx):
    form = ctx.env.form
    return form.model.version if form is not None else ""


_MODULUS = 2**31 - 1  # Park-Miller's "minimal standard" generator


def seed_of(value) -> int:
    """randomize()'s seed as a whole number, as ODK's evaluators derive it: a
    number's integer part (0 for NaN and infinities); any other text, the first
    8 bytes of its SHA-256 as a signed 64-bit number ("" is 0)."""
    number = to_num(value)
    if number == number:
        return 0 if math.isinf(number) else int(number)
    text = to_str(value)
    if text == "":
        return 0
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big", signed=True)


def _park_miller(seed: int):
    state = abs(seed) % _MODULUS * (1 if seed >= 0 else -1)
    if state <= 0:
        state += _MODULUS - 1
    while True:
        state = state * 16807 % _MODULUS
        yield (state - 1) / (_MODULUS - 1)


def shuffled(items: list, seed: int | None) -> list:
    """The "inside-out" Fisher-Yates shuffle the specification names; with a
    seed, drawn from Park-Miller's generator, so the order is reproducible."""
    draws = _park_miller(seed) if seed is not None else iter(random.random, None)
    out: list = []
    for i, item in enumerate(items):
        j = math.floor(next(draws) * (i + 1))
        if j == i:
            out.append(item)
        else:
            out.append(out[j])
            out[j] = item
    return out


def f_randomize(ctx, nodes, *seed):
    if type(nodes) is not list:
        raise TypeError("randomize() needs a node-set")
    return shuffled(nodes, seed_of(seed[0]) if seed else None)


FUNCTIONS = {
    "instance": (f_instance, 1, 1),
    "pulldata": (f_pulldata, 4, 4),
    "jr:itext": (f_itext, 1, 1),
    "version": (f_version, 0, 0),
    "randomize": (f_randomize, 1, 2),
}
