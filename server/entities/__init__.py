"""Entity lists: the returnees (or anything else) forms are about, kept on the
office server, filled by submissions and imports, and sent to tablets as form
media.

    apply.py      a submission's create/update of an entity (ingest calls
                  ``apply_record`` in the record's own transaction); ``write``,
                  the one way any change lands, with its history
    conflicts.py  changes not applied (an update from an old version, ...),
                  kept for review: apply or dismiss
    lists.py      the lists, one entity and its history, the list file a form
                  reads (streamed, filtered to the tablet's user) and its hash
    imports.py    a case list from CSV, with a dry run
    due.py        rounds per form; who is due, overdue or completed
    errors.py     EntitiesError and its codes

All SQL is in server/store/entities.py; user docs in docs/entities.md.
"""
