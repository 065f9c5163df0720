"""Reading and writing the answer at a field's path in a record's data.

A record's ``data`` mirrors the XForm instance: a group is an object, a repeat
a list of objects, an answer a value (docs/API.md, "Sync"). A field's path
(``household/econ/age``) names one group per step; a step may name one item of
a repeat as XPath does, 1-based (``members[2]``). Every package reads answers
through ``answer_at``, so each reads the same thing.
"""

from __future__ import annotations


def answer_at(data: dict, path: str, name: str | None = None):
    """The answer at ``path`` in ``data``, or None when the record does not
    answer it, when a step is not a group, or when the path names a group (an
    object is not an answer). A repeat, or a select_multiple sent as a list, is
    returned as it is.

    With the field's bare ``name``, a record keyed flat is read too, as inputs
    may key a field by its path or by its name (CSV files, JSON clients): when
    nothing is at the path, ``data[path]``, then ``data[name]``.
    """
    node = data
    for step in path.split("/"):
        if not isinstance(node, dict):
            node = None
            break
        node = _child(node, step)
    if node is None and name is not None:
        node = data.get(path)
        if node is None:
            node = data.get(name)
    return None if isinstance(node, dict) else node


def put_answer(data: dict, path: str, value) -> bool:
    """Set the answer at ``path`` in ``data``, making the groups on the way (a
    repeat's item must be there already); None removes the answer. Returns
    False, changing nothing, when a step is not a group."""
    *steps, last = path.split("/")
    node = data
    for step in steps:
        if "[" in step:
            node = _child(node, step)
        else:
            node = node.setdefault(step, {})
        if not isinstance(node, dict):
            return False
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return True


def _child(node: dict, step: str):
    """``node``'s member named by ``step``: ``name``, or ``name[n]`` (the n-th
    item of a repeat, 1-based)."""
    if step[-1:] != "]":
        return node.get(step)
    name, _, index = step[:-1].partition("[")
    items = node.get(name)
    if not isinstance(items, list) or not index.isdigit():
        return None
    at = int(index)
    return items[at - 1] if 0 < at <= len(items) else None
