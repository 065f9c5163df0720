"""A form's OData entity model, as ODK Central lays it out, and its documents.

One model per form covers every published version (fields in the order the
versions introduced them; a field's type is the newest version's):

- ``Submissions``: one entity per record, keyed on ``__id`` (the record's first
  instanceID), with ``__system`` (Central's submission metadata plus fieldsync's
  extras, see ``SYSTEM``) and the answers; groups are complex types;
- each repeat is its own entity set, ``Submissions.household.members``, keyed
  on ``__id`` and joined to its parent by ``__Submissions-id`` (or, inside
  another repeat, ``__Submissions-household-members-id``), reached from its
  parent through a navigation property.

Names are XML names made OData identifiers (``sanitize``). Central's dotted
type and set names and its ``__...-id`` join keys are not OData simple
identifiers; the clients rely on them, so they are kept as Central has them.

The model's types and ``SYSTEM`` are defined in ``server.store.odata``, beside
the SQL that reads them; this module builds the model and writes its documents.
Pure: no database access, no HTTP.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from forms.model import FormModel
from server.store.odata import SYSTEM, SYSTEM_NS, EntityModel, Group, Leaf, Table

EDM_TYPES = {
    "int": "Edm.Int64", "decimal": "Edm.Decimal", "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint", "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon", "date": "Edm.Date", "dateTime": "Edm.DateTimeOffset",
}
USER_NS = "org.opendatakit.user"
REVIEW_STATES = ("hasIssues", "edited", "rejected", "approved")
STATUSES = ("notDecrypted", "missingEncryptedFormData")
_LEADING = re.compile(r"^([^A-Za-z_])")
_INVALID = re.compile(r"[^A-Za-z0-9_]+")


def sanitize(name: str) -> str:
    """An XML name as an OData identifier, as Central makes it (``a-b`` -> ``a_b``)."""
    return _INVALID.sub("_", _LEADING.sub(r"_\1", name))


def build(form_id: str, models: list[FormModel], score_dims: list[str] | None = None
          ) -> EntityModel:
    """The entity model of a form over its published versions (oldest first)."""
    nodes: dict[str, dict] = {}
    order: dict[str | None, list[str]] = {None: []}
    for model in models:
        containers = {f.parent for f in model.fields.values() if f.parent}
        for f in model.fields.values():
            kind = ("repeat" if f.kind == "repeat" else
                    "group" if f.kind == "group" or f.path in containers else "leaf")
            if f.path not in nodes:
                order.setdefault(f.parent, []).append(f.path)
                order.setdefault(f.path, [])
            nodes[f.path] = {"name": f.name, "kind": kind, "type": f.type}
    submissions = Table("Submissions", None)
    tables = {"Submissions": submissions}
    groups: list[Group] = []

    def fill(table: Table, members: list, parent_path: str | None, dotted: list[str]):
        for path in order.get(parent_path, []):
            node = nodes[path]
            name = sanitize(node["name"])
            parts = dotted + [name]
            if node["kind"] == "leaf":
                members.append(Leaf(name, path, node["type"],
                                    EDM_TYPES.get(node["type"], "Edm.String")))
            elif node["kind"] == "group":
                group = Group(name, path, ".".join(parts))
                groups.append(group)
                members.append(group)
                fill(table, group.members, path, parts)
            else:
                repeat = Table("Submissions." + ".".join(parts), path, name, table,
                               f"__{table.name.replace('.', '-')}-id")
                tables[repeat.name] = repeat
                members.append(repeat)
                fill(repeat, repeat.members, path, parts)

    fill(submissions, submissions.members, None, [])
    return EntityModel(form_id, f"{USER_NS}.{sanitize(form_id)}", tables, groups,
                       list(score_dims or []))


# Documents -----------------------------------------------------------------------

def service_document(em: EntityModel, service_url: str) -> dict:
    return {"@odata.context": f"{service_url}/$metadata",
            "value": [{"name": name, "kind": "EntitySet", "url": name} for name in em.tables]}


def metadata_xml(em: EntityModel) -> bytes:
    """The EDMX (CSDL XML, OData 4.0) Metadata Document."""
    ns = em.namespace
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
           "<edmx:DataServices>",
           f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{SYSTEM_NS}">',
           '<ComplexType Name="metadata">']
    for name, edm in SYSTEM:
        out.append(_property(name, edm))
        if name == "scoringVersion" and em.score_dims:
            out.append(_property("scores", f"{SYSTEM_NS}.scores"))
    out.append("</ComplexType>")
    if em.score_dims:
        out.append('<ComplexType Name="scores">')
        out += [_property(dim, "Edm.Decimal") for dim in em.score_dims]
        out.append("</ComplexType>")
    for enum, members in (("Status", STATUSES), ("ReviewState", REVIEW_STATES)):
        out.append(f'<EnumType Name="{enum}">')
        out += [f'<Member Name="{m}"/>' for m in members]
        out.append("</EnumType>")
    out += ["</Schema>",
            f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace={quoteattr(ns)}>']
    for table in em.tables.values():
        out.append(f"<EntityType Name={quoteattr(table.name)}>")
        out.append('<Key><PropertyRef Name="__id"/></Key>')
        out.append(_property("__id", "Edm.String", nullable=False))
        if table.path is None:
            out.append(_property("__system", f"{SYSTEM_NS}.metadata"))
        else:
            out.append(_property(table.parent_key, "Edm.String"))
        out += _members(table.members, ns)
        out.append("</EntityType>")
    for group in em.groups:
        out.append(f"<ComplexType Name={quoteattr(group.type_name)}>")
        out += _members(group.members, ns)
        out.append("</ComplexType>")
    out.append(f"<EntityContainer Name={quoteattr(sanitize(em.form_id))}>")
    for table in em.tables.values():
        out.append(f"<EntitySet Name={quoteattr(table.name)} "
                   f"EntityType={quoteattr(ns + '.' + table.name)}>")
        if table.path is None:
            out += _capabilities()
        out.append("</EntitySet>")
    out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(out).encode("utf-8")


def _members(members: list, ns: str) -> list[str]:
    out = []
    for m in members:
        if isinstance(m, Leaf):
            out.append(_property(m.name, m.edm))
        elif isinstance(m, Group):
            out.append(_property(m.name, f"{ns}.{m.type_name}"))
        else:
            out.append(f"<NavigationProperty Name={quoteattr(m.prop)} "
                       f"Type={quoteattr(f'Collection({ns}.{m.name})')}/>")
    return out


def _property(name: str, edm: str, nullable: bool = True) -> str:
    facets = ' Scale="variable"' if edm == "Edm.Decimal" else ""
    null = "" if nullable else ' Nullable="false"'
    return f"<Property Name={quoteattr(name)} Type={quoteattr(edm)}{null}{facets}/>"


def _capabilities() -> list[str]:
    cap = "Org.OData.Capabilities.V1"
    return [
        f'<Annotation Term="{cap}.ConformanceLevel" '
        f'EnumMember="{cap}.ConformanceLevelType/Minimal"/>',
        f'<Annotation Term="{cap}.BatchSupported" Bool="false"/>',
        f'<Annotation Term="{cap}.CountRestrictions"><Record>'
        '<PropertyValue Property="Countable" Bool="true"/></Record></Annotation>',
        f'<Annotation Term="{cap}.FilterRestrictions"><Record>'
        '<PropertyValue Property="Filterable" Bool="true"/>'
        '<PropertyValue Property="RequiresFilter" Bool="false"/></Record></Annotation>',
        f'<Annotation Term="{cap}.SortRestrictions"><Record>'
        '<PropertyValue Property="Sortable" Bool="true"/></Record></Annotation>',
        f'<Annotation Term="{cap}.ExpandRestrictions"><Record>'
        '<PropertyValue Property="Expandable" Bool="true"/></Record></Annotation>',
    ]
