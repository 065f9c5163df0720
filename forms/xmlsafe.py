"""Parse XML from outside without entity expansion, DTDs or network access.

Every XML document fieldsync reads (XForms, OpenRosa submissions, Collect
instance files) goes through ``parse_xml``, so a billion-laughs or external
entity payload is refused the same way whichever door it came through.
"""

from __future__ import annotations

from lxml import etree

from forms.errors import FormsError

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: str | bytes) -> etree._Element:
    """Return the root element, or raise FormsError ``xml_invalid``/``xml_forbidden``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise _forbidden()
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        if "<!DOCTYPE" in data[:8192].decode("utf-16", "ignore").upper() or \
                "<!DOCTYPE" in data[:8192].decode("utf-16-be", "ignore").upper():
            raise _forbidden() from None
        raise FormsError(
            "xml_invalid", f"The XML could not be parsed: {exc}. Send well-formed XML."
        ) from None
    if root is None:
        raise FormsError("xml_invalid", "The XML document is empty.")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # any encoding, e.g. UTF-16
        raise _forbidden()
    return root


def _forbidden() -> FormsError:
    return FormsError(
        "xml_forbidden",
        "The XML declares a DOCTYPE or entities, which fieldsync never expands; "
        "send the document without a DOCTYPE.",
    )
