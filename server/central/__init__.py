"""ODK Central's REST API and OData, for the clients HQ analysts already use
(pyodk, ruODK, Power BI, Excel): what fieldsync serves under ``/v1`` and in
which shapes. docs/central-api.md lists the routes and what is not served.

    auth         who calls: sessions, bearer tokens, Basic (one authenticator)
    errors       refusals with Central's code and fieldsync's, rendered on /v1
    shapes       Central's JSON for users, the project, forms, versions, fields
    submissions  create from XML (the ingest pipeline), review, attachments
    edm          a form's OData entity model, $metadata, the service document
    odata_query  OData query options and the $filter grammar (no SQL)
    odata        data documents, paged and streamed
    csvzip       Central's CSV export layout

The SQL behind them lives in ``server.store.central`` and ``server.store.odata``;
the routes in ``server.routes.central`` and ``server.routes.odata``.
"""
