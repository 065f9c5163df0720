"""OpenRosa for ODK Collect, KoboCollect and Enketo: the pieces behind
``server/routes/openrosa.py``.

    errors.py      the OpenRosa error registry (codes not in server.errors)
    digest.py      RFC 2617/7616 Digest: stateless HMAC nonces, response check (pure)
    authn.py       Basic and Digest authenticators for ``requires(...)``
    xml.py         formList, manifest and OpenRosaResponse documents (pure)
    submission.py  a multipart POST -> one record for ``server.ingest.pipeline``
"""
