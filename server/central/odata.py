"""OData v4 per form, as ODK Central serves it: service document, metadata
document and data documents, streamed with flat memory.

    em = entity_model(db, "rss")
    doc = data_document(db, em, parse_query("Submissions", args), service_url, url, args)
    for chunk in doc.chunks(): ...

A data document is read in one snapshot (one read transaction: its count and
its rows agree) and written as it is read, ``CHUNK_ROWS`` rows at a time.
Paging: with ``$top`` (or ``Prefer: odata.maxpagesize``) a page ends with an
``@odata.nextLink`` carrying a ``$skiptoken`` (the last row's key; see
``server.store.odata``), so the next page starts right after the last row
served, whatever arrived meanwhile. Without either, every row comes in one
response, as Central does (pyodk's ``get_table`` reads one response).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlite_utils import Database

from server.central import edm
from server.central.errors import CentralError
from server.central.odata_query import Query, skiptoken
from server.errors import FieldsyncError
from server.registry.models import model_for, spec_for
from server.store import central as central_q
from server.store import forms as forms_q
from server.store.odata import Compiler, QueryRefused

CHUNK_ROWS = 1000


def entity_model(db: Database, form_id: str) -> edm.EntityModel:
    """The entity model over every published version of a form."""
    versions = forms_q.list_versions(db, form_id)
    if not versions:
        raise FieldsyncError("form_unknown", f"No form '{form_id}' is published here; "
                             "GET /v1/projects/1/forms lists them.", {"form_id": form_id})
    models = [m for m in (model_for(db, form_id, v["version"]) for v in versions) if m]
    spec = spec_for(db, models[-1]) if models else None
    return edm.build(form_id, models, spec.scores if spec is not None else [])


@dataclass
class DataDocument:
    db: Database
    context: str
    rows_sql: str
    rows_params: list
    count: int | None
    page: int | None
    next_url: Callable[[int, int], str]

    def chunks(self) -> Iterator[bytes]:
        """The JSON document, in pieces of up to CHUNK_ROWS rows."""
        head = f'{{"@odata.context":{_json_str(self.context)},'
        if self.count is not None:
            head += f'"@odata.count":{self.count},'
        yield (head + '"value":[').encode("utf-8")
        cursor = self.db.conn.execute(self.rows_sql, self.rows_params)
        served, last_key, more = 0, None, False
        while batch := cursor.fetchmany(CHUNK_ROWS):
            if self.page is not None and served + len(batch) > self.page:
                batch = batch[:self.page - served]
                more = True
            if batch:
                text = ",".join(row[0] for row in batch)
                yield ((b"," if served else b"") + text.encode("utf-8"))
                served += len(batch)
                last_key = batch[-1][1]
            if more:
                break
        cursor.close()
        tail = "]"
        if more:
            tail += f',"@odata.nextLink":{_json_str(self.next_url(last_key, served))}'
        yield (tail + "}").encode("utf-8")


def data_document(db: Database, em: edm.EntityModel, query: Query, *, service_url: str,
                  request_url: str, args: Mapping[str, str]) -> DataDocument:
    """Plan one data document (``db`` holds the read snapshot it is served from)."""
    table = em.tables.get(query.table)
    if table is None:
        raise CentralError("odata_table_unknown", f"No table '{query.table}' in this "
                           "service; the service document lists them.")
    submission_id = None
    if query.key is not None:
        submission_id = central_q.listed_row_id(db, em.form_id, query.key)
        if submission_id is None:
            raise FieldsyncError("submission_unknown", f"No submission '{query.key}' of "
                                 f"form '{em.form_id}'.", {"instance_id": query.key})
    compiler = Compiler(db, em, table, wkt=query.wkt, expand=query.expand)
    after = None if query.orderby else query.after
    try:
        plan = compiler.plan(filter_node=query.filter, select=query.select,
                             orderby=query.orderby, after=after,
                             limit=None if query.page is None else query.page + 1,
                             skip=query.skip, submission_id=submission_id)
    except QueryRefused as refused:
        raise CentralError(refused.code, refused.message, refused.details) from None
    count = (db.execute(plan.count_sql, plan.count_params).fetchone()[0]
             if query.count else None)

    def next_url(last_key: int, served: int) -> str:
        kept = [(k, v) for k, v in _items(args) if k not in ("$skip", "$skiptoken")]
        if query.orderby:
            kept.append(("$skip", str(query.skip + served)))
        else:
            kept.append(("$skiptoken", skiptoken(query.table, last_key, query.page)))
        return f"{request_url}?{urlencode(kept, quote_via=quote, safe='$*,()')}"

    return DataDocument(db, f"{service_url}/$metadata#{query.table}", plan.rows_sql,
                        plan.rows_params, count, query.page, next_url)


def _items(args: Mapping[str, str]):
    if hasattr(args, "items") and hasattr(args, "getlist"):
        return [(k, v) for k in args for v in args.getlist(k)]
    return list(args.items())


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
