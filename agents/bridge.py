"""The second hop of a multi-hop question: follow the names that first-hop passages mention.

"What position was held by the woman who played Corliss Archer in Kiss and Tell?" names only its first
hop. The passage about Kiss and Tell names the bridge (Shirley Temple), and the answer is in the
bridge's own document, which shares almost no words with the question. The rewriter lists such names
(bridge entities); each is searched together with the sub-question, and the best hit that is about the
name (the name is in its title) joins the evidence.

Only names that occur verbatim in local feedback passages are followed (``local_bridges``), so neither a
model's invention nor a web page's text can steer this hop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sleuth.agents.textmatch import content_terms
from sleuth.tools.protocols import SearchBackend
from sleuth.tools.records import Passage

MAX_BRIDGES = 12
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")  # "Kiss and Tell (1945 film)" -> "Kiss and Tell"


def local_bridges(
    proposed: Iterable[str], feedback: Iterable[Mapping[str, Any]], sub_question: str
) -> list[str]:
    """The proposed names that a local feedback passage mentions verbatim and the sub-question does not
    already name, without repeats, at most ``MAX_BRIDGES``."""
    texts = [str(p.get("text", "")).lower() for p in feedback if p.get("origin", "local") == "local"]
    asked = set(content_terms(sub_question))
    kept: dict[str, str] = {}
    for raw in proposed:
        name = " ".join(str(raw).split())
        terms = content_terms(name)
        if not terms or all(t in asked for t in terms) or not any(name.lower() in t for t in texts):
            continue
        kept.setdefault(name.lower(), name)
    return list(kept.values())[:MAX_BRIDGES]


def is_about(passage: Passage, name: str) -> bool:
    """The passage's document is about ``name``: the name is in its title, or its title (without a
    parenthesised qualifier) is in the name."""
    title = passage.title.lower()
    head = _QUALIFIER.sub("", title).strip()
    lowered = name.lower()
    return bool(head) and (lowered in title or head in lowered)


def bridge_passages(
    backend: SearchBackend,
    sub_question: str,
    bridges: Iterable[str],
    *,
    exclude_docs: set[str],
    k: int,
    limit: int,
) -> list[tuple[Passage, str]]:
    """Up to ``limit`` (passage, query) pairs: per bridge name in order, the best hit about it for the
    query "<name> <sub-question>" from a document not already chosen."""
    picked: list[tuple[Passage, str]] = []
    taken = set(exclude_docs)
    for name in bridges:
        if len(picked) >= limit:
            break
        query = f"{name} {sub_question}"
        hit = next(
            (h for h in backend.search(query, k=k) if h.doc_id not in taken and is_about(h, name)), None
        )
        if hit is not None:
            picked.append((hit, query))
            taken.add(hit.doc_id)
    return picked
