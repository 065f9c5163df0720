"""Streamed files: named in a header any browser or client can read whatever the
form id holds, and the whole file arrives."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.helpers.accounts import Site

ODD_FORM = ('| survey |\n| | type | name | label |\n| | text | q | Q |\n'
            '| settings |\n| | form_id | version |\n| | visits/"2026" ménage | 1 |\n')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("streams"))
    r = site.call("POST", "/api/v1/forms", token=site.admin_token,
                  data={"file": (io.BytesIO(ODD_FORM.encode()), "odd.md")})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    return site


def test_an_export_of_a_form_with_quotes_slashes_and_accents_is_named_in_plain_ascii(site):
    # '~' and the URL-safe base64 of the form id, as docs/API.md says
    r = site.call("GET", "/api/v1/forms/~dmlzaXRzLyIyMDI2IiBtw6luYWdl/submissions",
                  token=site.admin_token)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Disposition"] == 'attachment; filename="visits_2026_m_nage.csv"'
    assert r.get_data(as_text=True).splitlines()[0].startswith("seq,")


def test_centrals_csv_zip_of_a_form_is_a_whole_zip_named_after_it(site):
    r = site.call("GET", "/v1/projects/1/forms/tform/submissions.csv.zip",
                  token=site.admin_token)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="tform.zip"'
    assert "tform.csv" in zipfile.ZipFile(io.BytesIO(r.get_data())).namelist()


def test_centrals_csv_of_a_form_with_quotes_in_its_id_keeps_the_header_well_formed(site):
    r = site.call("GET", "/v1/projects/1/forms/~dmlzaXRzLyIyMDI2IiBtw6luYWdl/submissions.csv",
                  token=site.admin_token)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="visits_2026_m_nage.csv"'
