"""Nodes over a record's data dict, shaped like the XForm instance they stand for.

Groups are dicts, repeats are lists of dicts, leaves are strings. A name the form
declares but the data lacks still answers as the instance would: an empty leaf,
an empty group, or no repeat instances. Child lists are built once per node and
cached, so a node keeps its identity (unions and ``..`` rely on it) and a path
walked twice in one record costs a dict lookup.
"""

from __future__ import annotations

from forms.xpath.values import format_number


class Node:
    """An element: ``path`` is its path in the form without indexes (``members/age``)
    and ``index`` its 1-based position among same-named siblings."""

    __slots__ = ("parent", "name", "value", "path", "index", "schema", "_kids", "_key")

    def __init__(self, parent, name, value, path, index, schema):
        self.parent = parent
        self.name = name
        self.value = value
        self.path = path
        self.index = index
        self.schema = schema
        self._kids = None
        self._key = None

    def text(self) -> str:
        value = self.value
        if type(value) is str:
            return value
        if value is None:
            return ""
        if type(value) is dict:
            return "".join(n.text() for n in self.element_children())
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return format_number(float(value))
        return ""

    def children(self, name: str) -> list[Node]:
        kids = self._kids
        if kids is None:
            kids = self._kids = {}
        else:
            found = kids.get(name)
            if found is not None:
                return found
        found = kids[name] = self._make_children(name)
        return found

    def _make_children(self, name: str) -> list[Node]:
        value = self.value
        path = f"{self.path}/{name}" if self.path else name
        raw = value.get(name) if type(value) is dict else None
        if raw is None:
            return self.schema.missing(self, name, path)
        if type(raw) is list:
            return [Node(self, name, item, path, i, self.schema) for i, item in enumerate(raw, 1)]
        return [Node(self, name, raw, path, 1, self.schema)]

    def element_children(self) -> list[Node]:
        """All child elements in document order (form order, then unknown keys)."""
        names = list(self.schema.child_names(self.path))
        if type(self.value) is dict:
            names += [k for k in self.value if k not in names]
        out: list[Node] = []
        for name in names:
            out.extend(self.children(name))
        return out

    def order_key(self) -> tuple:
        key = self._key
        if key is None:
            if self.parent is None:
                key = (self.schema.doc_rank,)
            else:
                key = self.parent.order_key() + (
                    self.schema.rank(self.path, self.name), self.index,
                )
            self._key = key
        return key

    def __repr__(self) -> str:
        return f"Node({self.path or '/'!r}[{self.index}])"


class Schema:
    """What the form says about names the data may lack, and the order of names."""

    def __init__(self, fields: dict | None = None, doc_rank: int = 0):
        self.fields = fields or {}
        self.doc_rank = doc_rank
        self._rank = {path: i for i, path in enumerate(self.fields)}
        self._child_names: dict[str, list[str]] = {}
        self.repeat_paths = {p for p, f in self.fields.items() if f.kind == "repeat"}
        for path, f in self.fields.items():
            self._child_names.setdefault(f.parent or "", []).append(f.name)

    def missing(self, parent: Node, name: str, path: str) -> list[Node]:
        if parent.parent is None:  # the document node has only its root element
            return []
        f = self.fields.get(path)
        if f is None or f.kind == "repeat":
            return []
        value = {} if f.kind in ("group", "meta") and f.path in self._child_names else ""
        return [Node(parent, name, value, path, 1, self)]

    def child_names(self, path: str) -> list[str]:
        return self._child_names.get(path, [])

    def rank(self, path: str, name: str) -> int:
        return self._rank.get(path, len(self._rank))


def document(root_name: str, data: dict, schema: Schema) -> Node:
    """A document node whose one child element is the instance root ``root_name``."""
    doc = Node(None, "", {root_name: data}, "", 1, schema)
    root = Node(doc, root_name, data, "", 1, schema)
    doc._kids = {root_name: [root]}
    return doc
