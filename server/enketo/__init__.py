"""Web forms for enumerators without Android: fieldsync drives Enketo.

- ``settings``: where Enketo is, its API key, fieldsync's own address.
- ``client``: the calls to Enketo's API v2 (survey links, deactivation, edits).
- ``surveys``: each form's links, kept in step with the form's state.
- ``edit``: a supervisor edits a record in Enketo; it comes back as a new version.
- ``media``: signed, short-lived attachment URLs for Enketo's media proxy.
- ``public``: anonymous, revocable links that accept records of one form.
- ``web``: the same inside a request (config, session, callers without accounts).

Every record, whether typed in Enketo or sent through a public link, arrives
through OpenRosa ``/submission`` and ends in ``server.ingest.pipeline.ingest``.
"""
