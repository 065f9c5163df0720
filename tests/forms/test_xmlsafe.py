"""XML from outside is parsed without entities; a DOCTYPE is refused whatever the
document's encoding, as docs/security.md promises."""

from __future__ import annotations

import pytest

from forms.errors import FormsError
from forms.xmlsafe import parse_xml

DECLARED = ('<?xml version="1.0" encoding="{enc}"?>'
            '<!DOCTYPE data [<!ENTITY who "an entity">]><data><case_id>&who;</case_id></data>')
BARE = '<?xml version="1.0" encoding="{enc}"?><!DOCTYPE data><data><case_id>x</case_id></data>'
PLAIN = '<?xml version="1.0" encoding="{enc}"?><data><case_id>x</case_id></data>'


@pytest.mark.parametrize("codec,label", [
    ("utf-8", "UTF-8"), ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
    ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32"), ("latin-1", "ISO-8859-1"),
])
@pytest.mark.parametrize("template", [DECLARED, BARE], ids=["entity", "bare"])
def test_a_doctype_is_refused_in_any_encoding(codec, label, template):
    with pytest.raises(FormsError) as err:
        parse_xml(template.format(enc=label).encode(codec))
    assert err.value.code == "xml_forbidden"


@pytest.mark.parametrize("codec,label", [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"),
                                         ("latin-1", "ISO-8859-1")])
def test_a_document_without_a_doctype_is_read_in_any_encoding(codec, label):
    root = parse_xml(PLAIN.format(enc=label).encode(codec))
    assert root.findtext("case_id") == "x"
