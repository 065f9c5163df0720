"""XLSForm -> XForm through pyxform, with errors that name the sheet and row.

``convert_xlsform`` is the one way a form enters fieldsync. It refuses unreadable
or oversized workbooks (zip bombs included) before pyxform sees them, turns
pyxform's errors into ``FormsError("xlsform_invalid")`` with ``{sheet, row,
message}`` details, fills in a version when the settings sheet has none, and
returns the XForm, its md5 (the OpenRosa form hash) and the compiled model.

The settings are read as ODK Central reads them: the form_id and version are
kept as written, whatever their characters (a version typed as a date in Excel
arrives as ``2023-05-02 10:43:54``); a form without a form_id is named after its
file (pyxform's fallback id), as Central names it, never after the instance
root ``data``. Where the store or a URL needs a plainer name, it derives one
(``server.store.answers.table_key``, the OpenRosa URLs' ``~`` names).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from lxml import etree
from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import Definition, SupportedFileTypes
from pyxform.xls2xform import convert

from forms.errors import FormsError
from forms.model import FormModel, compile_xform
from forms.xmlsafe import parse_xml

SUFFIXES = {".xlsx": ".xlsx", ".xls": ".xls", ".csv": ".csv", ".md": ".md"}
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_ZIP_RATIO = 200
MAX_NAME_CHARS = 1000  # a form_id or version longer than this is a pasted paragraph
_ROW_RE = re.compile(r"\[row\s*:\s*(\d+)\]\s*")
_SHEET_RE = re.compile(r"'([a-z_]+)' sheet")


@dataclass(frozen=True)
class CompiledForm:
    """A converted form, ready to store: the source, the XForm and its model."""

    form_id: str
    version: str
    title: str
    xform: str
    md5: str
    model: FormModel
    source: bytes
    source_name: str
    warnings: list[str]

    @property
    def hash(self) -> str:
        """The OpenRosa form hash: ``md5:`` and the md5 of the XForm bytes served."""
        return f"md5:{self.md5}"


def convert_xlsform(source: bytes, filename: str) -> CompiledForm:
    """Convert an XLSForm file's bytes; ``filename`` only decides the format."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise FormsError(
            "xlsform_type_unsupported",
            f"'{PurePath(filename or '').name}' is not an XLSForm: upload a .xlsx, .xls, "
            ".csv or .md file.",
        )
    if suffix == ".xlsx":
        _check_zip(source)
    warnings: list[str] = []
    # the file's own name, also when a browser sent its whole Windows path
    stem = PurePath(filename.replace("\\", "/")).stem.strip() or "form"
    try:
        result = convert(
            Definition(data=io.BytesIO(source), file_type=SupportedFileTypes(SUFFIXES[suffix]),
                       file_path_stem=stem),
            warnings=warnings,
            form_name="data",
        )
    except PyXFormError as exc:
        raise _xlsform_error(str(exc)) from None
    except (ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile,
            etree.XMLSyntaxError) as exc:
        raise FormsError(
            "xlsform_unreadable",
            f"The file could not be read as a {suffix} XLSForm ({exc.__class__.__name__}); "
            "check that it is a valid workbook with a 'survey' sheet.",
        ) from None
    xform = result.xform
    root = parse_xml(xform)
    instance = _primary_instance(root)
    form_id = (instance.get("id") or "").strip()
    if not form_id:
        form_id = stem
        instance.set("id", form_id)
    version = (instance.get("version") or "").strip()
    if not version:
        version = hashlib.sha256(source).hexdigest()[:12]
    if instance.get("id") != form_id or instance.get("version") != version:
        instance.set("id", form_id)
        instance.set("version", version)
        xform = etree.tostring(root, xml_declaration=True, encoding="utf-8").decode()
    for what, text in (("form_id", form_id), ("version", version)):
        if len(text) > MAX_NAME_CHARS:
            raise _xlsform_error(f"On the 'settings' sheet, the {what} is {len(text)} "
                                 f"characters long; keep it under {MAX_NAME_CHARS}.")
    model = compile_xform(xform)
    return CompiledForm(
        form_id=form_id,
        version=version,
        title=model.title,
        xform=xform,
        md5=hashlib.md5(xform.encode("utf-8")).hexdigest(),
        model=model,
        source=source,
        source_name=PurePath(filename.replace("\\", "/")).name,
        warnings=list(warnings),
    )


def _primary_instance(root):
    ns = "{http://www.w3.org/2002/xforms}"
    for inst in root.iter(f"{ns}instance"):
        if inst.get("id") is None:
            return next(iter(inst))
    raise FormsError("xlsform_invalid", "The converted XForm has no primary instance.")


def _check_zip(source: bytes) -> None:
    """Refuse a workbook that is not a zip or that would unpack to too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(source)) as zf:
            total = sum(info.file_size for info in zf.infolist())
            if total <= MAX_UNZIPPED_BYTES:
                _refuse_doctypes(zf)
    except zipfile.BadZipFile:
        raise FormsError(
            "xlsform_unreadable",
            "The .xlsx file is not a valid workbook (not a zip archive); re-save it from "
            "Excel or LibreOffice as .xlsx.",
        ) from None
    if total > MAX_UNZIPPED_BYTES or total > MAX_ZIP_RATIO * max(len(source), 1):
        raise FormsError(
            "xlsform_unreadable",
            f"The .xlsx file would unpack to {total} bytes, more than fieldsync reads "
            f"({MAX_UNZIPPED_BYTES} bytes); remove unused sheets or images.",
        )


def _refuse_doctypes(zf: zipfile.ZipFile) -> None:
    """Refuse a workbook any of whose XML parts declares a DOCTYPE (entities),
    in whatever encoding: Excel and LibreOffice never write one."""
    for info in zf.infolist():
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with zf.open(info) as part:
            head = part.read(4096)
        if _declares_doctype(head):
            raise FormsError(
                "xml_forbidden",
                f"The workbook part {info.filename} declares a DOCTYPE or entities, which "
                "fieldsync never reads; re-save the file from Excel or LibreOffice.",
            )


def _declares_doctype(head: bytes) -> bool:
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        text = head.decode(encoding, "ignore").replace("\x00", "")
        if "<!DOCTYPE" in text.upper():
            return True
    return False


def _xlsform_error(text: str) -> FormsError:
    row_match = _ROW_RE.search(text)
    sheet_match = _SHEET_RE.search(text)
    row = int(row_match.group(1)) if row_match else None
    sheet = sheet_match.group(1) if sheet_match else ("survey" if row else None)
    message = _ROW_RE.sub("", text).strip()
    where = f" (sheet '{sheet}', row {row})" if row else ""
    return FormsError(
        "xlsform_invalid",
        f"The XLSForm has an error{where}: {message}",
        {"errors": [{"sheet": sheet, "row": row, "message": message}]},
    )
