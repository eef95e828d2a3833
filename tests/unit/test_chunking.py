"""Chunking and sentence splitting: exact offsets, full coverage, stable ids, structure-aware breaks."""

from __future__ import annotations

import random
import time

import pytest

from sleuth.tools.corpus.chunking import chunk_text, split_sentences
from sleuth.tools.records import Chunk, content_hash, short_id
from sleuth.wiring import chunk_size

SENTENCES = [
    "Tidal power converts the energy of tides into electricity.",
    "Engineers have studied it for decades, e.g. in France and Korea.",
    "The plant produces 254.5 megawatts at peak.",
    "Is it cheaper than wind?",
    "Critics, including Smith et al. (2020), point to the cost!",
    "Dr. Park disagrees with them.",
    "Sediment moves differently behind a barrage, and fish migrate less.",
]

DEFAULT_SIZE = chunk_size()


def prose(rng: random.Random, n_paragraphs: int, sentences_per_paragraph: tuple[int, int] = (2, 8)) -> str:
    paragraphs = [
        " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(*sentences_per_paragraph)))
        for _ in range(n_paragraphs)
    ]
    return "\n\n".join(paragraphs)


def check_invariants(text: str, chunks: list[Chunk], max_chars: int, overlap: int) -> None:
    covered = bytearray(len(text))
    for i, c in enumerate(chunks):
        assert c.ordinal == i
        assert text[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert len(c.text) <= max_chars
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.start < nxt.start and prev.end < nxt.end
        assert nxt.start >= prev.end - overlap
    missed = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert missed == []


def test_offsets_coverage_and_sizes_on_prose() -> None:
    text = prose(random.Random(1), 40)
    chunks = chunk_text("doc", text, max_chars=500, overlap_chars=100)
    assert len(chunks) > 10
    check_invariants(text, chunks, 500, 100)


def test_chunks_start_and_end_on_word_boundaries() -> None:
    text = prose(random.Random(2), 30)
    for c in chunk_text("doc", text, max_chars=300, overlap_chars=80):
        assert c.start == 0 or text[c.start - 1].isspace()
        assert c.end == len(text) or text[c.end].isspace()


def test_breaks_prefer_sentence_ends_and_overlap_starts_a_sentence() -> None:
    text = " ".join(SENTENCES * 20)  # one long paragraph
    chunks = chunk_text("doc", text, max_chars=400, overlap_chars=150)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.text[-1] in ".?!"
        assert prev.start < nxt.start < prev.end  # the overlap really happens
        assert any(nxt.text.startswith(s) for s in SENTENCES)


def test_breaks_prefer_paragraph_ends() -> None:
    paragraphs = [" ".join(SENTENCES[i % 7 : i % 7 + 3]) for i in range(12)]  # ~150-200 chars each
    text = "\n\n".join(paragraphs)
    chunks = chunk_text("doc", text, max_chars=450, overlap_chars=0)
    for c in chunks[:-1]:
        assert text[c.end : c.end + 2] == "\n\n"


def test_ids_are_stable_and_follow_the_recipe() -> None:
    text = prose(random.Random(3), 10)
    first = chunk_text("doc-1", text, max_chars=300, overlap_chars=150)
    again = chunk_text("doc-1", text, max_chars=300, overlap_chars=150)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    c = first[1]
    assert c.chunk_id == short_id("doc-1", str(c.start), str(c.end), content_hash(c.text))
    assert len({c.chunk_id for c in first}) == len(first)
    assert first[0].chunk_id != chunk_text("doc-2", text, max_chars=300, overlap_chars=150)[0].chunk_id


def test_token_longer_than_max_is_cut() -> None:
    text = "start " + "x" * 2500 + " end"
    chunks = chunk_text("doc", text, max_chars=1000, overlap_chars=100)
    check_invariants(text, chunks, 1000, 100)
    assert [c.text for c in chunks] == ["start", "x" * 1000, "x" * 1000, "x" * 500 + " end"]


def test_surrounding_whitespace_is_trimmed_by_offsets() -> None:
    text = "\n\n   Hello there.   \n\n\t"
    assert [(c.start, c.end, c.text) for c in chunk_text("d", text, **DEFAULT_SIZE)] == [
        (5, 17, "Hello there.")
    ]


@pytest.mark.parametrize("text", ["", "   \n\n\t  "])
def test_empty_and_whitespace_text_give_no_chunks(text: str) -> None:
    assert chunk_text("d", text, **DEFAULT_SIZE) == []


def test_long_run_of_whitespace_between_texts() -> None:
    text = "First part here. " * 10 + " " * 5000 + "Second part."
    chunks = chunk_text("d", text, max_chars=100, overlap_chars=50)
    check_invariants(text, chunks, 100, 50)
    assert chunks[-1].text == "Second part."


def section(title: str, n_sentences: int) -> str:
    return f"# {title}\n\n" + " ".join(SENTENCES[i % 7] for i in range(n_sentences))


def test_heading_starts_a_new_chunk_without_overlap_once_chunk_is_big_enough() -> None:
    text = "\n\n".join(section(t, 7) for t in ["Alpha", "Beta", "Gamma"])  # ~350 chars per section
    chunks = chunk_text("d", text, max_chars=800, overlap_chars=150)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Alpha", "# Beta", "# Gamma"]


def test_small_sections_are_merged() -> None:
    text = "\n\n".join(section(t, 1) for t in ["One", "Two", "Three", "Four"])  # ~70 chars each
    chunks = chunk_text("d", text, max_chars=800, overlap_chars=150)
    assert len(chunks) == 1 and chunks[0].text == text


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_text("d", "text", max_chars=100, overlap_chars=100)
    with pytest.raises(ValueError):
        chunk_text("d", "text", max_chars=0, overlap_chars=0)


@pytest.mark.parametrize("seed", range(6))
def test_randomized_texts_keep_the_invariants(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["alpha", "Beta.", "gamma,", "Delta!", "e.g.", "Dr.", "3.14", "\n", "\n\n", "\n# Head\n"]
    pieces += [" " * 30, "y" * 90]
    for _ in range(150):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 300)))
        max_chars = rng.randint(10, 400)
        overlap = rng.randint(0, max_chars - 1)
        chunks = chunk_text("d", text, max_chars=max_chars, overlap_chars=overlap)
        check_invariants(text, chunks, max_chars, overlap)


def test_ten_megabytes_in_linear_time() -> None:
    # ~0.4 s on an idle 2-core machine; the bound leaves room for a loaded CI box, and a quadratic
    # implementation would take minutes.
    part = prose(random.Random(4), 400) + "\n\n# Next part\n\n"
    text = part * (10_000_000 // len(part) + 1)
    started = time.perf_counter()
    chunks = chunk_text("big", text, **DEFAULT_SIZE)
    elapsed = time.perf_counter() - started
    assert len(text) >= 10_000_000 and len(chunks) > 10_000
    assert elapsed < 3.0, f"chunking 10 MB took {elapsed:.2f} s"


# --- sentences ---------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("See e.g. the appendix. Done.", ["See e.g. the appendix.", "Done."]),
        ("Use tools, i.e. Hammers. Next.", ["Use tools, i.e. Hammers.", "Next."]),
        ("Smith et al. (2020) found it. Then more.", ["Smith et al. (2020) found it.", "Then more."]),
        ("Pi is 3.14159 roughly. Yes.", ["Pi is 3.14159 roughly.", "Yes."]),
        ("J. R. R. Tolkien wrote it. Indeed.", ["J. R. R. Tolkien wrote it.", "Indeed."]),
        ("Dr. Smith met Mrs. Jones. They talked.", ["Dr. Smith met Mrs. Jones.", "They talked."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait... and see. Okay.", ["Wait... and see.", "Okay."]),
        ("See Fig. 3 for details. It helps.", ["See Fig. 3 for details.", "It helps."]),
        ("It rose in step 2. The end.", ["It rose in step 2.", "The end."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("(A short aside.) Next one.", ["(A short aside.)", "Next one."]),
    ],
)
def test_sentence_splitter_cases(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentence_splitter_on_markdown_structure() -> None:
    text = "# Title\nIntro line\nwrapped here.\n\nPara two\n- item one\n- item two\n1. First\n2. Second"
    assert sentences(text) == [
        "# Title",
        "Intro line\nwrapped here.",
        "Para two",
        "- item one",
        "- item two",
        "1. First",
        "2. Second",
    ]


def test_sentence_spans_are_exact_and_stripped() -> None:
    text = "  Leading space.   Trailing space.  \n\n "
    spans = split_sentences(text)
    assert spans == [(2, 16), (19, 34)]
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


@pytest.mark.parametrize("text", ["", "   \n\n "])
def test_sentence_splitter_on_empty_text(text: str) -> None:
    assert split_sentences(text) == []


def test_sentence_spans_cover_all_text_in_order() -> None:
    text = prose(random.Random(5), 20)
    spans = split_sentences(text)
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:], strict=False))
    assert "".join("".join(text[a:b].split()) for a, b in spans) == "".join(text.split())
    assert len(spans) == sum(text.count(s) for s in SENTENCES)
