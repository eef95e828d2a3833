"""File → text extraction: every supported kind, and every way a file can be refused (one-line reason)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sleuth.tools.corpus.discover import iter_candidate_files
from sleuth.tools.corpus.extract import (
    SUPPORTED_SUFFIXES,
    ExtractedText,
    extract_file,
    extract_html,
    extract_pdf_bytes,
)
from sleuth.tools.errors import ExtractError
from sleuth.tools.records import content_hash
from tests.fixtures.file_modes import run_bound_by_file_modes
from tests.fixtures.pdfs import encrypted_pdf, minimal_pdf

MB = 1024**2
LIMIT = 50 * MB

ARTICLE_HTML = """<!doctype html>
<html><head>
  <title>Tidal Power Explained | Example News</title>
  <meta name="author" content="Jane Doe">
  <meta property="article:published_time" content="2024-05-01T08:00:00Z">
</head><body>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li>
  <li><a href="/subscribe">Subscribe now</a></li></ul></nav>
  <article>
    <h1>Tidal Power Explained</h1>
    <p>Tidal power converts the energy of tides into electricity. Engineers have studied it for decades,
    because tides are far more predictable than wind or sunshine and follow the moon's schedule.</p>
    <p>The largest tidal plant, at Sihwa Lake in South Korea, produces about 254 megawatts. It uses a
    seawall that was originally built for flood control and land reclamation in the nineteen-nineties.</p>
    <p>Critics point to the cost of construction and to the effects on estuaries, where barrages change
    how sediment moves and how fish migrate between the river and the open sea.</p>
  </article>
  <footer><p>Copyright 2024 Example News. All rights reserved. Cookie settings.</p></footer>
</body></html>
"""


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def refusal(path: Path, max_bytes: int = LIMIT) -> str:
    with pytest.raises(ExtractError) as info:
        extract_file(path, max_bytes=max_bytes)
    reason = str(info.value)
    assert "\n" not in reason and reason, reason
    return reason


# --- Markdown and plain text -------------------------------------------------------------------


def test_markdown_title_is_first_h1_and_text_is_kept_verbatim(tmp_path: Path) -> None:
    source = "Intro line before the heading.\n\n# Solar Sails\n\nLight pushes on a mirror.\n## Details\n"
    result = extract_file(write(tmp_path, "notes.md", source), max_bytes=LIMIT)
    assert result == ExtractedText("Solar Sails", source, "markdown", content_hash(source.encode()))


def test_markdown_front_matter_title_wins(tmp_path: Path) -> None:
    source = '---\ntitle: "Field Notes"\ntags: [a]\n---\n# Other heading\nBody.\n'
    assert extract_file(write(tmp_path, "a.markdown", source), max_bytes=LIMIT).title == "Field Notes"


def test_text_with_bom_and_crlf_is_normalised(tmp_path: Path) -> None:
    raw = "\ufeffFirst line\r\nsecond line\r\rthird".encode()
    result = extract_file(write(tmp_path, "plain.txt", raw), max_bytes=LIMIT)
    assert result.text == "First line\nsecond line\n\nthird"
    assert result.title == "First line"
    assert result.kind == "text"
    assert result.raw_hash == content_hash(raw)


def test_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "win.txt", "Grüße aus Wien\r\n".encode("utf-16")), max_bytes=LIMIT)
    assert result.text == "Grüße aus Wien\n"


def test_long_first_line_title_is_shortened_at_a_word(tmp_path: Path) -> None:
    line = "word " * 60
    title = extract_file(write(tmp_path, "long.txt", line), max_bytes=LIMIT).title
    assert len(title) <= 121 and title.endswith("word…")


def test_rst_adornment_is_not_the_title(tmp_path: Path) -> None:
    source = "=======\nOverview\n=======\n\nSome text.\n"
    assert extract_file(write(tmp_path, "doc.rst", source), max_bytes=LIMIT).title == "Overview"


def test_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    assert extract_file(write(tmp_path, "only-symbols.txt", "*** --- ***\n"), max_bytes=LIMIT).title == (
        "only-symbols"
    )


# --- HTML --------------------------------------------------------------------------------------


def test_html_article_keeps_main_text_and_drops_boilerplate(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "page.html", ARTICLE_HTML), max_bytes=LIMIT)
    assert result.kind == "html"
    assert "Sihwa Lake" in result.text and "sediment moves" in result.text
    assert "Subscribe now" not in result.text and "Cookie settings" not in result.text
    assert "Tidal Power Explained" in result.title
    assert result.raw_hash == content_hash(ARTICLE_HTML.encode())


def test_extract_html_returns_author_date_and_url() -> None:
    result = extract_html(ARTICLE_HTML, url="https://news.example/tidal")
    assert result.meta["author"] == "Jane Doe"
    assert result.meta["date"].startswith("2024-05-01")
    assert result.meta["url"] == "https://news.example/tidal"


def test_tiny_html_page_still_gives_its_text_and_title(tmp_path: Path) -> None:
    page = "<html><head><title>Shopping</title></head><body><p>Eggs, milk.</p></body></html>"
    result = extract_file(write(tmp_path, "list.htm", page), max_bytes=LIMIT)
    assert result.text.strip() == "Eggs, milk."
    assert result.title == "Shopping"


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    page = b'<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head>'
    page += b"<body><p>Caf\xe9.</p></body></html>"
    result = extract_file(write(tmp_path, "latin.html", page), max_bytes=LIMIT)
    assert "Café" in result.text and result.title == "Café"


def test_html_without_text_is_refused(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "blank.html", "<html><body>   </body></html>")).startswith("empty file")


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_text_pages_and_metadata_title(tmp_path: Path) -> None:
    data = minimal_pdf([["Hello PDF world.", "Second (line)"], ["Page two."]], title="Report 7")
    result = extract_file(write(tmp_path, "r.pdf", data), max_bytes=LIMIT)
    assert result.kind == "pdf" and result.title == "Report 7"
    assert result.text == "Hello PDF world.\nSecond (line)\n\nPage two."
    assert result.meta["pages"] == 2
    assert result.raw_hash == content_hash(data)


def test_pdf_title_falls_back_to_first_line() -> None:
    assert extract_pdf_bytes(minimal_pdf([["Quarterly figures", "rest"]])).title == "Quarterly figures"


def test_pdf_page_cap_truncates_and_logs() -> None:
    data = minimal_pdf([["one"], ["two"], ["three"]])
    with capture_logs() as logs:
        result = extract_pdf_bytes(data, max_pages=2)
    assert result.text == "one\n\ntwo"
    assert [e["event"] for e in logs] == ["extract.pdf_truncated"]


def test_pdf_encrypted_with_empty_user_password_is_readable() -> None:
    data = encrypted_pdf(minimal_pdf([["Open secret."]]), user_password="")
    assert extract_pdf_bytes(data).text == "Open secret."


def test_pdf_with_user_password_is_refused(tmp_path: Path) -> None:
    data = encrypted_pdf(minimal_pdf([["Hidden."]]), user_password="hunter2")
    assert refusal(write(tmp_path, "locked.pdf", data)) == "encrypted PDF (password protected)"


@pytest.mark.parametrize(
    "data",
    [
        minimal_pdf([["Cut short."]])[:150],
        b"%PDF-1.4\n" + bytes(range(256)) * 8,
    ],
    ids=["truncated", "garbage-after-header"],
)
def test_corrupt_pdf_is_refused(tmp_path: Path, data: bytes) -> None:
    assert refusal(write(tmp_path, "bad.pdf", data)).startswith("corrupt PDF: ")


def test_pdf_without_header_is_refused(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "fake.pdf", "not a pdf at all, just words"))
    assert reason == "corrupt PDF: no %PDF header (not a PDF file?)"


def test_pdf_without_text_is_refused_as_scanned(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "scan.pdf", minimal_pdf([[], []])))
    assert reason == "no extractable text (scanned PDF? OCR is not supported)"


# --- refusals ----------------------------------------------------------------------------------


def test_binary_content_with_text_extension(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")) == (
        "binary content in a text file"
    )


def test_control_characters_without_nul_count_as_binary(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "ctl.md", bytes(range(1, 32)) * 20)) == "binary content in a text file"


def test_latin1_and_cp1252_text_is_read_and_says_its_encoding(tmp_path: Path) -> None:
    text = "Le café au lait coûte trois euros – « très » cher, dit-on à Besançon.\n" * 3
    for encoding in ("latin-1", "cp1252"):
        data = text.replace("–", "-").encode(encoding) if encoding == "latin-1" else text.encode(encoding)
        extracted = extract_file(write(tmp_path, f"{encoding}.txt", data), max_bytes=1 << 20)
        assert "café au lait coûte" in extracted.text and "Besançon" in extracted.text
        assert extracted.meta["encoding"] == "cp1252"
    russian = "Привет, как дела? Это тестовый текст на русском языке.\n" * 3
    extracted = extract_file(write(tmp_path, "ru.txt", russian.encode("cp1251")), max_bytes=1 << 20)
    assert extracted.text == russian and extracted.meta["encoding"] == "cp1251"


def test_empty_file(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "empty.md", b"")) == "empty file (0 bytes)"


def test_whitespace_only_file(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "blank.txt", " \n\t\r\n ")) == "empty file (no text after extraction)"


def test_oversize_file_is_refused_by_size_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(200 * MB)  # sparse: all NUL bytes, so reading it would say "binary" instead
    assert refusal(path) == "file too large: 200.0 MB > 50.0 MB limit"


def test_missing_path(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nope.md") == "does not exist"


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "dangling.md"
    link.symlink_to(tmp_path / "gone.md")
    assert refusal(link) == "broken symbolic link"


def test_directory_given_as_file(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    assert refusal(tmp_path / "folder.md") == "is a directory, not a file"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert refusal(tmp_path / "pipe.txt") == "not a regular file (device, pipe or socket)"


def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.md", "text")
    path.chmod(0)
    script = (
        "from pathlib import Path\n"
        "from sleuth.tools.corpus.extract import extract_file\n"
        "from sleuth.tools.errors import ExtractError\n"
        "try:\n"
        f"    extract_file(Path({str(path)!r}), max_bytes={LIMIT})\n"
        "except ExtractError as e:\n"
        "    print(e)\n"
    )
    assert run_bound_by_file_modes(script) == "permission denied"


def test_unsupported_extension(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "sheet.ods", b"PK\x03\x04"))
    assert reason.startswith("unsupported file type .ods (supported: ")


# --- walking folders ---------------------------------------------------------------------------


def test_iter_candidate_files_walks_sorted_and_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    names = ["b.md", "a.txt", "sub/z.pdf", "sub/y.HTML", "sub/skip.odt", ".hidden.md", ".git/HEAD.md"]
    names.append("c.png")
    for rel in names:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    found = [(path, reason and reason.split(" (")[0]) for path, reason in iter_candidate_files([tmp_path])]
    assert found == [
        (tmp_path / "a.txt", None),
        (tmp_path / "b.md", None),
        (tmp_path / "c.png", "unsupported file type .png"),  # listed, not silently ignored
        (tmp_path / "sub/skip.odt", "unsupported file type .odt"),
        (tmp_path / "sub/y.HTML", None),
        (tmp_path / "sub/z.pdf", None),
    ]


def remove_deep(top: Path) -> None:
    """Remove a folder chain of any depth without recursion."""
    os.chdir(top)
    depth = 0
    while os.path.isdir("d"):
        os.chdir("d")
        depth += 1
    for name in os.listdir("."):
        os.remove(name)
    for _ in range(depth):
        os.chdir("..")
        os.rmdir("d")
    os.chdir(top.parent)


def test_a_symlink_loop_and_a_very_deep_folder_are_one_skip_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the test walks the process's cwd down the chain; this restores it
    folder = tmp_path / "L"
    folder.mkdir()
    (folder / "a.md").symlink_to("b.md")
    (folder / "b.md").symlink_to("a.md")
    write(folder, "ok.md", "# x")
    deep = folder / "deep"
    deep.mkdir()
    os.chdir(deep)  # 1,500 levels: build them relative to stay under PATH_MAX per call
    try:
        for _ in range(1500):
            os.mkdir("d")
            os.chdir("d")
        Path("bottom.md").write_text("x")
    finally:
        os.chdir(tmp_path)
    try:
        found = list(iter_candidate_files([folder]))
    finally:
        remove_deep(deep)  # pytest's own cleanup recurses and would hit RecursionError on it
    assert (folder / "ok.md", None) in found
    reasons = {path.name: reason for path, reason in found if reason}
    assert reasons["a.md"] == reasons["b.md"] == "symbolic link that loops or points nowhere"
    [too_deep] = [r for r in reasons.values() if "levels deep" in r]
    assert too_deep.startswith("folder nested more than 64 levels deep")


def test_iter_candidate_files_reports_named_paths_and_dedupes(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "x")
    write(tmp_path, "photo.jpg", b"\xff\xd8")
    named = [tmp_path / "missing.md", tmp_path / "photo.jpg", tmp_path, tmp_path / "a.md"]
    found = list(iter_candidate_files(named))
    assert found[0] == (tmp_path / "missing.md", "does not exist")
    assert found[1][0] == tmp_path / "photo.jpg" and found[1][1].startswith("unsupported file type .jpg")
    assert found[2:] == [(tmp_path / "a.md", None)]


def test_supported_suffixes_cover_every_kind() -> None:
    assert {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"} <= SUPPORTED_SUFFIXES


def test_iter_candidate_files_yields_an_explicitly_named_hidden_file(tmp_path: Path) -> None:
    path = write(tmp_path, ".notes.md", "x")
    assert list(iter_candidate_files([path])) == [(path, None)]


def test_iter_candidate_files_reports_an_unreadable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    write(locked, "inside.md", "x")
    locked.chmod(0)
    script = (
        "import json\n"
        "from pathlib import Path\n"
        "from sleuth.tools.corpus.discover import iter_candidate_files\n"
        f"found = iter_candidate_files([Path({str(tmp_path)!r})])\n"
        "print(json.dumps([[str(path), reason] for path, reason in found]))\n"
    )
    try:
        found = json.loads(run_bound_by_file_modes(script))
    finally:
        locked.chmod(0o755)
    assert found == [[str(locked), "cannot read folder: Permission denied"]]
