"""Office documents, e-books and tables as plain text, through maintained libraries: .docx (python-docx:
paragraphs and tables in document order), .pptx (python-pptx: each slide's text, tables and notes),
.xlsx (openpyxl, read-only, cached values), .epub (ebooklib: chapters in reading order), .csv (the csv
module). Rows of a table read "header: value | header: value", so a chunk of a big table still says what
each value is. A file its library cannot open is an ``ExtractError`` with a one-line reason; citations
are character spans into the text made here, as for every other format."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lxml import html as lxml_html

from sleuth.tools.errors import ExtractError
from sleuth.tools.records import content_hash

MAX_TABLE_ROWS = 100_000  # rows read per sheet or CSV file; the rest is left out (and logged by the caller)


def _cell(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def table_lines(rows: Iterable[Sequence[Any]]) -> list[str]:
    """One line per non-empty row; the first non-empty row names the columns of the rest."""
    header: list[str] | None = None
    lines = []
    for count, row in enumerate(rows):
        if count >= MAX_TABLE_ROWS:
            break
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            lines.append(" | ".join(c for c in cells if c))
            continue
        named = [
            f"{header[i]}: {c}" if i < len(header) and header[i] else c for i, c in enumerate(cells) if c
        ]
        lines.append(" | ".join(named))
    return lines


def _docx(data: bytes) -> tuple[str, list[str]]:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    blocks = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.append("\n".join(table_lines([cell.text for cell in row.cells] for row in block.rows)))
        elif block.text.strip():
            blocks.append(block.text.strip())
    headings = [
        b.text
        for b in document.paragraphs
        if b.style is not None and b.style.name.startswith(("Title", "Heading"))
    ]
    title = document.core_properties.title or (headings[0] if headings else "")
    return title, blocks


def _pptx(data: bytes) -> tuple[str, list[str]]:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    blocks, first_title = [], ""
    for number, slide in enumerate(deck.slides, 1):
        lines = []
        title_shape = slide.shapes.title
        heading = (
            title_shape.text_frame.text.strip()
            if title_shape is not None and title_shape.has_text_frame
            else ""
        )
        first_title = first_title or heading
        lines.append(f"Slide {number}" + (f": {heading}" if heading else ""))
        for shape in slide.shapes:
            if shape is title_shape:
                continue
            if shape.has_text_frame and shape.text_frame.text.strip():
                lines.append(shape.text_frame.text.strip())
            elif getattr(shape, "has_table", False) and shape.has_table:
                lines += table_lines([cell.text for cell in row.cells] for row in shape.table.rows)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                lines.append(f"Notes: {notes}")
        blocks.append("\n".join(lines))
    return deck.core_properties.title or first_title, blocks


def _xlsx(data: bytes) -> tuple[str, list[str]]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        blocks = []
        for sheet in book.worksheets:
            lines = table_lines(sheet.iter_rows(values_only=True))
            if lines:
                blocks.append("\n".join([f"Sheet: {sheet.title}", *lines]))
        return book.properties.title or "", blocks
    finally:
        book.close()


def _epub(data: bytes) -> tuple[str, list[str]]:
    import ebooklib
    from ebooklib import epub

    book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    blocks = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        content = item.get_content()
        if not content.strip():
            continue
        root = lxml_html.fromstring(content)
        for hidden in root.xpath("//script|//style"):
            hidden.drop_tree()
        text = "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())
        if text:
            blocks.append(text)
    titles = book.get_metadata("DC", "title")
    return (titles[0][0] if titles else ""), blocks


_READERS: dict[str, tuple[str, Callable[[bytes], tuple[str, list[str]]]]] = {
    "docx": ("DOCX", _docx),
    "pptx": ("PPTX", _pptx),
    "xlsx": ("XLSX", _xlsx),
    "epub": ("EPUB", _epub),
}
BINARY_KINDS = frozenset(_READERS)


def extract_office(data: bytes, kind: str) -> tuple[str, str, str]:
    """(title, text, raw hash) of a .docx, .pptx, .xlsx or .epub file's bytes."""
    label, read = _READERS[kind]
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ExtractError(f"corrupt {label}: not a zip archive (damaged, or another format renamed)")
    try:
        title, blocks = read(data)
    except ExtractError:
        raise
    except Exception as e:  # each library raises its own long tail (KeyError, ValueError, lxml errors...)
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ExtractError(f"corrupt {label}: {type(e).__name__}: {reason[:150]}") from e
    return title, "\n\n".join(b for b in blocks if b.strip()), content_hash(data)


def csv_text(text: str) -> str:
    """A CSV file's text as one line per row (delimiter sniffed: comma, semicolon, tab or pipe)."""
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        return "\n".join(table_lines(csv.reader(io.StringIO(text), dialect)))
    except csv.Error as e:
        raise ExtractError(f"unreadable CSV: {e}") from e
