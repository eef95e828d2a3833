"""Split extracted text into overlapping chunks and sentences, by character offsets into the text.

Offsets are exact (``text[c.start:c.end] == c.text``) so a citation can point at the passage. Each
chunk is found by looking only at a window of ``max_chars`` ahead of its start, so the work is linear
in the length of the text.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from itertools import islice

from sleuth.tools.records import Chunk, content_hash, short_id

# Words whose trailing period does not end a sentence ("e.g. The", "Dr. Smith", "et al. (2020)").
# Words like "etc." and "Inc." often do end one; a following lowercase word already says they don't.
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "cf", "al", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "no", "nos"}
    | {"vol", "pp", "fig", "figs", "eq", "eqs", "approx", "ca", "jan", "feb", "mar", "apr", "jun", "jul"}
    | {"aug", "sep", "sept", "oct", "nov", "dec"}
)
# The leading lookahead lets the regex engine skip ordinary characters quickly.
_SENTENCE_CUT = re.compile(
    r"""(?=[.!?\u2026\n\#])(?:
        (?P<term>[.!?\u2026]+["'\u201d\u2019)\]]*)(?=\s)(?!\s+[a-z])  # punctuation, space, no lowercase
      | (?P<para>\n[ \t]*\n)                                # blank line
      | (?P<line>\n)(?=[ \t]*(?:\#|>|[-*+][ \t]|\d{1,3}[.)][ \t]))  # next line: heading, list, quote
      | ^\#{1,6}[ \t][^\n]*(?P<heading>\n)                  # end of a heading line
    )""",
    re.VERBOSE | re.MULTILINE,
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_HEADING = re.compile(r"\n(?=\#{1,6}[ \t])")
_WORD_START = re.compile(r"(?<=\s)\S")
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_NEXT_NON_SPACE = re.compile(r"\S")
# A heading starts a new chunk once the current one holds this share of max_chars; paragraph and
# sentence breaks before this share are passed over in favour of a later one.
MIN_FILL = 0.4
_MAX_CUT_CHECKS = 10


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` into ``text``, stripped of surrounding whitespace."""
    spans = []
    start = 0
    for cut in _sentence_cuts(text, 0, len(text)):
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return [span for span in (_strip(text, a, b) for a, b in spans) if span[0] < span[1]]


def _sentence_cuts(text: str, pos: int, endpos: int) -> Iterator[int]:
    """Offsets in [pos, endpos] where a sentence ends (just after its punctuation or line)."""
    for m in _SENTENCE_CUT.finditer(text, pos, endpos):
        if _is_cut(text, m):
            yield m.end()


def _last_sentence_cut(text: str, pos: int, endpos: int) -> int | None:
    # Judge candidates from the right: only the last real sentence end in the window is wanted. The
    # cap bounds the work on pathological text (every candidate an abbreviation); whitespace takes over.
    candidates = list(_SENTENCE_CUT.finditer(text, pos, endpos))
    for m in reversed(candidates[-_MAX_CUT_CHECKS:]):
        if _is_cut(text, m):
            return m.end()
    return None


def _is_cut(text: str, m: re.Match[str]) -> bool:
    return m.group("term") is None or _ends_sentence(text, m.start(), m.end())


def _ends_sentence(text: str, start: int, end: int) -> bool:
    nxt = _NEXT_NON_SPACE.search(text, end, end + 200)
    if nxt and nxt.group().islower():  # "e.g. the", "... and so on"
        return False
    if text[start:end].rstrip("\"'\u201d\u2019)]") != ".":
        return True  # "!", "?", "..." before a capital
    words = text[max(0, start - 40) : start].split()
    token = words[-1].lstrip("([\"'") if words else ""
    if token.lower() in _ABBREVIATIONS:
        return False
    if len(token) == 1 and token.isupper():  # an initial: "J. R. R. Tolkien"
        return False
    # "1. First item" at the start of a line is a list marker, not a sentence.
    line_start = start - len(token)
    return not (token.isdigit() and (line_start == 0 or text[line_start - 1] == "\n"))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_text(doc_id: str, text: str, *, max_chars: int, overlap_chars: int) -> list[Chunk]:
    """Chunks of at most ``max_chars`` (longer only never: a token longer than that is cut), each
    starting up to ``overlap_chars`` before the previous one ended, at a sentence or word start."""
    if max_chars < 1 or not 0 <= overlap_chars < max_chars:
        raise ValueError("need max_chars >= 1 and 0 <= overlap_chars < max_chars")
    chunks: list[Chunk] = []
    start = _skip_space(text, 0)
    floor = 0
    while start < len(text):
        end, at_heading = _chunk_end(text, start, floor, max_chars)
        start, end = _strip(text, start, end)
        if start < end:
            body = text[start:end]
            chunk_id = short_id(doc_id, str(start), str(end), content_hash(body))
            chunks.append(Chunk(chunk_id, doc_id, len(chunks), start, end, body))
        floor = _skip_space(text, end)  # the next chunk must reach past the previous one
        if floor >= len(text):
            break
        overlap_start = _next_start(text, start, end, 0 if at_heading else overlap_chars)
        # After a long run of whitespace the next text may lie beyond an overlapping window's reach.
        start = overlap_start if floor < overlap_start + max_chars else floor
    return chunks


def _skip_space(text: str, pos: int) -> int:
    m = _NEXT_NON_SPACE.search(text, pos)
    return m.start() if m else len(text)


def _chunk_end(text: str, start: int, floor: int, max_chars: int) -> tuple[int, bool]:
    """Where the chunk starting at ``start`` ends (always past ``floor``, the first non-space
    character after the previous chunk), and whether it ends because a heading starts a new section."""
    limit = start + max_chars
    low = max(floor + 1, start + int(max_chars * MIN_FILL))
    heading = _HEADING.search(text, low - 1, min(limit, len(text)))
    if heading:
        return heading.end(), True
    if limit >= len(text):
        return len(text), False
    paragraph = _last(m.start() for m in _PARAGRAPH.finditer(text, low, limit + 1))
    sentence = paragraph or _last_sentence_cut(text, low, limit + 1)
    if sentence:
        return sentence, False
    # No sentence fits: end after the last whitespace; a single token longer than max_chars is cut.
    space = _LAST_SPACE.match(text, max(floor, start) + 1, limit + 1)
    return (space.end() if space else limit), False


def _last(positions: Iterator[int]) -> int | None:
    last = deque(positions, maxlen=1)
    return last[0] if last else None


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """The next chunk's start: the first sentence start, else word start, in the last ``overlap``
    characters of the previous chunk; without one, the first character after it."""
    low = max(start + 1, end - overlap)
    if overlap and low < end:
        for m in islice(_SENTENCE_CUT.finditer(text, low - 1, end), _MAX_CUT_CHECKS):
            begin = _skip_space(text, m.end())
            if low <= begin < end and _is_cut(text, m):
                return begin
        word = _WORD_START.search(text, low, end)
        if word:
            return word.start()
    return _skip_space(text, end)
