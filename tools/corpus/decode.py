"""Reading a text file's bytes as text: UTF-8 (or UTF-16 with a byte-order mark), else the encoding
charset-normalizer finds, and refusing binary content in a text file, each with a one-line reason."""

from __future__ import annotations

import charset_normalizer

from sleuth.tools.errors import ExtractError

_SNIFF_BYTES = 8192
# Control characters that legitimately appear in text files: tab, LF, FF, CR, ESC (ANSI colours).
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1b")


def reject_binary(data: bytes) -> None:
    head = data[:_SNIFF_BYTES]
    controls = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROLS)
    if b"\x00" in head or controls > len(head) * 0.1:
        raise ExtractError("binary content in a text file")


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-8 (or UTF-16 with a byte-order mark), else the
    encoding charset-normalizer finds (Latin-1 and cp1252 files are common)."""
    # Windows tools write UTF-16 with a BOM; it is full of NUL bytes, so decode it before sniffing.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise ExtractError("not valid UTF-16 text despite its byte-order mark") from e
    reject_binary(data)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as e:
        bad = f"0x{data[e.start]:02x} at offset {e.start}"
        guess = _best_encoding(data)
        if guess is None:
            raise ExtractError(f"not valid UTF-8 text (bad byte {bad}) and no other encoding fits") from e
        return data.decode(guess), guess


# Latin-script single-byte code pages that a few accented letters cannot tell apart from cp1252
_LATIN_CODE_PAGES = {
    "cp1250",
    "cp1254",
    "cp1257",
    "cp775",
    "cp850",
    "cp852",
    "hp_roman8",
    "latin_1",
    "mac_roman",
}
_LATIN_CODE_PAGES |= {f"iso8859_{n}" for n in (1, 2, 3, 4, 9, 10, 13, 14, 15, 16)}


def _best_encoding(data: bytes) -> str | None:
    """charset-normalizer's reading; when it is a Latin-script code page and the bytes read as cp1252
    (Windows' Western default, a superset of Latin-1's printable range), cp1252: a short text with a few
    accents fits cp1250 as well, and Western files are far more common."""
    guess = charset_normalizer.from_bytes(data).best()
    if guess is None or guess.encoding in ("utf_8", "ascii"):
        return None
    if guess.encoding in _LATIN_CODE_PAGES:
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return guess.encoding
