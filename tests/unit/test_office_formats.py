"""Word, PowerPoint, Excel, EPUB and CSV files: real files (written by the same libraries) extract to
text that keeps their words, tables read "header: value", ingest cites exact spans of that text, and a
broken file is skipped with a one-line reason."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sleuth.settings import load_settings
from sleuth.tools.corpus.extract import extract_file
from sleuth.tools.errors import ExtractError
from sleuth.wiring import ingest_paths, open_corpus
from tests.fixtures import office

MAX = 50 * 1024 * 1024


def test_docx_keeps_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    extracted = extract_file(office.write_docx(tmp_path / "t.docx"), max_bytes=MAX)
    assert extracted.kind == "docx" and extracted.title == "Quillhaven timetable"
    text = extracted.text
    assert office.DOCX_FACT in text and "Route: Quillhaven to Marrow Isle | Departure: 07:00" in text
    assert text.index(office.DOCX_FACT) < text.index("Route: Quillhaven") < text.index("Tickets are sold")


def test_pptx_reads_slides_tables_and_notes(tmp_path: Path) -> None:
    extracted = extract_file(office.write_pptx(tmp_path / "t.pptx"), max_bytes=MAX)
    assert extracted.title == "Tides"
    assert "Slide 1: Tides" in extracted.text and office.PPTX_FACT in extracted.text
    assert (
        "Tide: Spring | Height: 5 m" in extracted.text
        and "Notes: Mention the neap tides too." in extracted.text
    )


def test_xlsx_rows_name_their_columns(tmp_path: Path) -> None:
    text = extract_file(office.write_xlsx(tmp_path / "t.xlsx"), max_bytes=MAX).text
    assert (
        "Sheet: Harbours" in text
        and "Harbour: Quillhaven | Depth: 12" in text
        and "Harbour: Marrow Isle | Depth: 7" in text
    )


def test_epub_chapters_in_reading_order(tmp_path: Path) -> None:
    extracted = extract_file(office.write_epub(tmp_path / "t.epub"), max_bytes=MAX)
    assert extracted.title == "Tales of Quillhaven"
    assert extracted.text.index("The harbour wakes") < extracted.text.index(office.EPUB_FACT)


def test_csv_delimiter_is_sniffed(tmp_path: Path) -> None:
    text = extract_file(office.write_csv(tmp_path / "t.csv"), max_bytes=MAX).text
    assert "harbour: Quillhaven | service: ferry | departure: 07:00" in text


@pytest.mark.parametrize("suffix", ["docx", "pptx", "xlsx", "epub"])
def test_a_broken_file_is_one_line(tmp_path: Path, suffix: str) -> None:
    junk = tmp_path / f"junk.{suffix}"
    junk.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ExtractError, match=rf"^corrupt {suffix.upper()}: not a zip archive"):
        extract_file(junk, max_bytes=MAX)
    wrong = tmp_path / f"wrong.{suffix}"  # a zip, but not this format inside
    with zipfile.ZipFile(wrong, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ExtractError) as refused:
        extract_file(wrong, max_bytes=MAX)
    assert str(refused.value).startswith(f"corrupt {suffix.upper()}: ") and "\n" not in str(refused.value)


def test_ingest_cites_exact_spans_of_every_format_and_skips_the_broken(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for write, name in (
        (office.write_docx, "a.docx"), (office.write_pptx, "b.pptx"), (office.write_xlsx, "c.xlsx"),
        (office.write_epub, "d.epub"), (office.write_csv, "e.csv"),
    ):  # fmt: skip
        write(docs / name)
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 truncated")
    settings = load_settings(data_dir=tmp_path / "data")
    report = ingest_paths(settings, [docs])
    assert report.added == 5
    assert [(Path(p).name, r.split(":")[0]) for p, r in report.skipped] == [("broken.docx", "corrupt DOCX")]
    corpus = open_corpus(settings, read_only=True)
    for query, name in (
        ("Quillhaven ferry seven morning", "a.docx"), ("spring tides peak five metres", "b.pptx"),
        ("harbour depth Quillhaven", "c.xlsx"), ("lighthouse keeper green ledger", "d.epub"),
        ("Quillhaven ferry departure 07:00", "e.csv"),
    ):  # fmt: skip
        hit = next(p for p in corpus.search(query, 3) if p.source.endswith(name))
        assert corpus.document_text(hit.doc_id)[hit.start : hit.end] == hit.text
