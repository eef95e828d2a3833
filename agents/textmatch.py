"""Small, deterministic text helpers shared by the offline engine and the agents' rule checks:
content terms (stopword-stripped, Snowball-stemmed), prose sentence splitting, term overlap and
negation cues. Pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9']*|\d+(?:\.\d+)?")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _wordset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves one two many much may might must shall use used
    using uses get gets make makes way ways thing things well often usually typically
    """
)
# Words that shape a question but say nothing about its topic.
QUESTION_WORDS = _wordset(
    """
    what how why which when where who whose does do did is are can could should would explain
    describe compare comparison difference differences versus vs tell give list overview summary
    summarise summarize work works role purpose main key best
    """
)
# Words that ask for an aspect of a topic ("strengths of X") rather than name the topic.
ASPECT_WORDS = _wordset(
    """
    strength strengths weakness weaknesses advantage advantages disadvantage disadvantages benefit
    benefits drawback drawbacks pros cons tradeoff tradeoffs trade limitation limitations
    """
)
NEGATIONS = _wordset(
    """
    not no never cannot can't doesn't don't isn't aren't wasn't weren't won't without neither nor
    none fails fail unable
    """
)
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "etc.", "cf.", "fig.", "approx.", "dr.", "mr.", "no.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word.lower())


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, inner apostrophes kept; hyphenated words split)."""
    return [w.lower() for w in _WORD.findall(text)]


def content_terms(text: str, *, drop_question_words: bool = False) -> list[str]:
    """Stemmed terms of ``text`` without stopwords, in order (duplicates kept)."""
    drop = STOPWORDS | QUESTION_WORDS if drop_question_words else STOPWORDS
    return [stem(w) for w in words(text) if w not in drop and len(w) > 1]


def keywords(text: str, *, keep_case: bool = False) -> list[str]:
    """Unstemmed topical words of a question, in order, without duplicates."""
    seen: dict[str, str] = {}
    for w in _WORD.findall(text):
        lower = w.lower()
        if lower not in STOPWORDS and lower not in QUESTION_WORDS and len(w) > 1:
            seen.setdefault(lower, w)
    return list(seen.values()) if keep_case else list(seen)


def containment(claim: str, passage: str) -> float:
    """Share of the claim's distinct content terms that occur in the passage (0..1; 0 for an empty claim)."""
    claim_terms = set(content_terms(claim))
    if not claim_terms:
        return 0.0
    return len(claim_terms & set(content_terms(passage))) / len(claim_terms)


def coverage(question: str, text: str) -> float:
    """Share of the question's topical terms that ``text`` mentions (0..1)."""
    terms = set(content_terms(question, drop_question_words=True))
    if not terms:
        return 0.0
    return len(terms & set(content_terms(text))) / len(terms)


# Capitalised word sequences ("Shirley Temple", "University of Virginia", "2009 Big 12 Conference"),
# inner lower-case connectors allowed; and titles in double quotes ("These Boots Are Made for Walkin'").
_CONNECTOR = r"(?:of|the|de|du|la|le|and|for|von|van|da|di|del|des|y|&)"
_NAME_WORD = r"(?:[A-Z](?:\.|[\w'’&-]*)|\d+\b(?!-))"  # "O." is an initial; "NCAA." ends a name
_NAME = re.compile(rf"{_NAME_WORD}(?:\s+(?:{_CONNECTOR}\s+)*{_NAME_WORD})*")
_QUOTED = re.compile(r"\"([A-Z0-9][^\"\n]{2,79})\"")


def named_entities(text: str, *, known: str = "") -> list[str]:
    """Names mentioned in ``text`` (quoted titles first, then capitalised phrases), in order, without
    repeats, skipping any whose content terms all occur in ``known`` (e.g. the question itself)."""
    known_terms = set(content_terms(known))
    found: dict[str, str] = {}
    candidates = [m.group(1) for m in _QUOTED.finditer(text)] + [m.group(0) for m in _NAME.finditer(text)]
    for raw in candidates:
        name = raw.strip(" .,;:'’-")
        terms = content_terms(name)
        if len(name) < 3 or not any(c.isupper() for c in name) or all(t in known_terms for t in terms):
            continue
        found.setdefault(name.lower(), name)
    return list(found.values())


# Words that say which way a quantity moves. "X increases Y" against "X reduces Y" is a contradiction the
# negation cues miss. Only the up/down axis: "improves" and "reduces" can both be good news.
_UP = _wordset(
    """
    increase increases increased increasing higher elevate elevated elevates raise raised raises more
    greater larger enhance enhances enhanced enhancing promote promotes promoted promoting upregulate
    upregulates upregulated upregulation activate activates activated accelerate accelerates accelerated
    augment augments augmented boost boosts stimulate stimulates stimulated
    """
)
_DOWN = _wordset(
    """
    decrease decreases decreased decreasing lower lowers lowered lowering reduce reduces reduced reducing
    reduction less fewer
    smaller diminish diminishes diminished inhibit inhibits inhibited inhibiting inhibition suppress
    suppresses suppressed suppression attenuate attenuates attenuated downregulate downregulates
    downregulated downregulation impede impedes impeded slow slows slowed decline declines declined
    """
)


def direction(text: str) -> int:
    """+1 when the text only says something goes up, -1 when it only says something goes down, else 0."""
    said = set(words(text))
    up, down = bool(said & _UP), bool(said & _DOWN)
    return 1 if up and not down else -1 if down and not up else 0


def opposite_direction(a: str, b: str) -> bool:
    return direction(a) * direction(b) == -1


def has_negation(text: str) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in words(text))


@dataclass(frozen=True)
class Sentence:
    """A prose sentence of a passage; ``start``/``end`` are offsets into the passage text."""

    text: str
    start: int
    end: int


def _is_formula(line: str) -> bool:
    return "=" in line and not line.endswith((".", "!", "?", ":"))


def _prose_blocks(text: str) -> list[tuple[int, str]]:
    """(offset, line) for lines that are prose: no headings, code fences, tables or formulas."""
    blocks, in_code, offset = [], False, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
        elif (
            stripped
            and not in_code
            and not stripped.startswith(("#", "|", "    "))
            and not _is_formula(stripped)
        ):
            blocks.append((offset, line.rstrip("\n")))
        offset += len(line)
    return blocks


def _ends_with_abbreviation(piece: str) -> bool:
    lower = piece.rstrip().lower()
    # an initial ("J. Smith") stands alone after a space; "4 °C." or "pH 7." end a sentence
    return lower.endswith(_ABBREVIATIONS) or bool(re.search(r"(?:^|\s)[a-z]\.$", lower))


def split_sentences(text: str) -> list[Sentence]:
    """Prose sentences of a markdown-ish passage, with offsets; list markers and emphasis stripped."""
    sentences: list[Sentence] = []
    for offset, line in _prose_blocks(text):
        marker = re.match(r"\s*(?:[-*+]|\d+[.)])\s+", line)
        body_start = marker.end() if marker else len(line) - len(line.lstrip())
        pieces, cursor = [], body_start
        for match in _SENTENCE_END.finditer(line, body_start):
            pieces.append((cursor, match.start()))
            cursor = match.end()
        pieces.append((cursor, len(line)))
        merged: list[tuple[int, int]] = []
        for start, end in pieces:
            if merged and _ends_with_abbreviation(line[merged[-1][0] : merged[-1][1]]):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        for start, end in merged:
            raw = line[start:end].strip()
            if raw:
                sentences.append(
                    Sentence(raw.replace("**", "").replace("`", ""), offset + start, offset + end)
                )
    return sentences
