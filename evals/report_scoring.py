"""Scoring one research report for the report evals, and summarising the scores of a run.

Per report: which gold documents its claims cite and its evidence holds, how many of its claims an
independent judge (evals/judge.py) finds supported by their cited passages, the HotpotQA answer an LLM
extracts from its claims (EM/F1), the SciFact verdict on the claim itself, and what it cost. "Cited"
means cited by the claims of the report's sections (its answer); conflicts, dropped claims and the
evidence listed for unwritten sections do not count.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from evals.answer_metrics import exact_match, f1_score
from evals.judge import CitationJudge, LexicalJudge, LLMAnswerExtractor, LLMJudge
from sleuth.agents.budget import FREE_MODELS, Ledger, ResearchLimits
from sleuth.agents.common import usage_of
from sleuth.agents.schemas import VerdictsOutput
from sleuth.agents.structured import call_structured
from sleuth.agents.verifier import apply_verdict, verifier_inputs
from sleuth.tools.errors import OutputInvalid
from sleuth.tools.llm import ChatModel

log = structlog.get_logger(__name__)

LABELS = ("SUPPORT", "CONTRADICT", "NEI")
LABEL_OF_VERDICT = {"supported": "SUPPORT", "contradicted": "CONTRADICT", "unsupported": "NEI"}
COST_KEYS = (
    "model_calls",
    "llm_calls",
    "sequential_llm_rounds",
    "prompt_tokens",
    "completion_tokens",
    "seconds",
)


@dataclass(frozen=True)
class ReportCase:
    case_id: str
    question: str  # what the research graph is asked (a HotpotQA question, a SciFact claim)
    gold_docs: tuple[str, ...]  # empty: left out of evidence recall (SciFact NEI claims)
    group: str  # HotpotQA: question type (heuristic); SciFact: gold label
    answer: str = ""  # HotpotQA gold answer


@dataclass
class Scorers:
    model: ChatModel
    limits: ResearchLimits
    judge: CitationJudge
    lexical: LexicalJudge  # always run; the main judge when no LLM is configured
    extractor: LLMAnswerExtractor | None
    verdict_usage: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def for_model(cls, model: ChatModel, limits: ResearchLimits) -> Scorers:
        lexical = LexicalJudge()
        if model.name in FREE_MODELS:
            return cls(model, limits, lexical, lexical, None)
        return cls(model, limits, LLMJudge(model), lexical, LLMAnswerExtractor(model))

    @property
    def llm(self) -> bool:
        return self.model.name not in FREE_MODELS

    def _usage_lists(self) -> list[list[dict[str, Any]]]:
        lists = [self.verdict_usage, getattr(self.judge, "usage", [])]
        return lists + ([self.extractor.usage] if self.extractor else [])

    def usage_mark(self) -> tuple[int, ...]:
        return tuple(len(records) for records in self._usage_lists())

    def usage_since(self, mark: tuple[int, ...]) -> list[dict[str, Any]]:
        """The eval's own model calls (judge, answer, verdict: outside the research budget) made after
        ``usage_mark()`` returned ``mark``."""
        return [r for records, n in zip(self._usage_lists(), mark, strict=True) for r in records[n:]]


Claims = list[tuple[str, list[str]]]  # (claim text, cited chunk ids)


def report_claims(report: Mapping[str, Any]) -> Claims:
    """The claims of the report's sections (its answer) with the chunk ids their citation numbers name."""
    chunk_of = {s["n"]: s["chunk_id"] for s in report.get("sources", [])}
    return [
        (claim["text"], [chunk_of[n] for n in claim["citations"] if n in chunk_of])
        for section in report.get("sections", [])
        for claim in section["claims"]
    ]


def gold_share(gold: Sequence[str], docs: set[str]) -> float:
    return len(set(gold) & docs) / len(set(gold))


def judge_claims(judge: CitationJudge, claims: Claims, evidence: Mapping[str, Any]) -> dict[str, Any]:
    supported, errors, refused = 0, 0, []
    for text, chunk_ids in claims:
        try:
            verdict = judge.judge(text, [evidence[c]["text"] for c in chunk_ids])
        except OutputInvalid as e:  # counted and shown, left out of precision
            errors += 1
            log.warning("eval.judge.failed", judge=judge.name, error=str(e))
            continue
        supported += verdict.supported
        if not verdict.supported and len(refused) < 3:
            refused.append({"claim": text[:200], "reason": verdict.reason})
    return {
        "judged": len(claims) - errors,
        "supported": supported,
        "judge_errors": errors,
        "refused": refused,
    }


def verdict_passages(claims: Claims, evidence: Mapping[str, Any], limit: int) -> list[Mapping[str, Any]]:
    """The passages the report cites, else its best-scored evidence (at most ``limit``)."""
    cited = list(dict.fromkeys(c for _, chunk_ids in claims for c in chunk_ids))
    if cited:
        return [evidence[c] for c in cited]
    return sorted(evidence.values(), key=lambda p: (-float(p.get("score", 0.0)), p["chunk_id"]))[:limit]


def claim_verdict(scorers: Scorers, claim: str, passages: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Sleuth's verdict on the SciFact claim itself, citing ``passages``: the verifier node's input, its
    one model call and its rules on the answer (agents/verifier: grounding, instructions), as a SciFact
    label (``verdict``, None when the output stayed invalid) with the reason, and the model's own label
    before those rules (``model_verdict``). No passage at all reads as NEI."""
    if not passages:
        return {"verdict": "NEI", "model_verdict": None, "verdict_reason": "no passage"}
    evidence = {p["chunk_id"]: {**p, "sub_questions": ["claim"]} for p in passages}
    pending = {"id": "claim", "text": claim, "citations": list(evidence), "sub_question_id": "claim"}
    inputs, refs = verifier_inputs({"evidence": evidence}, [pending], len(evidence))
    try:
        result = call_structured(
            scorers.model, Ledger(scorers.limits), task="verifier", inputs=inputs, schema=VerdictsOutput
        )
    except OutputInvalid as e:
        scorers.verdict_usage += usage_of(e)
        log.warning("eval.verdict.failed", error=str(e))
        return {"verdict": None, "model_verdict": None, "verdict_reason": str(e)}
    scorers.verdict_usage += result.usage
    answer = next((v for v in result.value.verdicts if v.claim_id == "claim"), None)
    judged = apply_verdict(pending, answer, refs, evidence, scorers.limits.grounding_min_coverage)
    return {
        "verdict": LABEL_OF_VERDICT[judged["verdict"]],
        "model_verdict": LABEL_OF_VERDICT[answer.verdict] if answer else None,
        "verdict_reason": judged["reason"],
    }


def report_cost(state: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """The report's own cost figures (agents/report.usage_summary), with the engine calls beside them."""
    usage = state.get("report", {}).get("usage", {})
    return {
        "model_calls": len(state.get("llm_usage", [])),  # offline engine calls included (they cost nothing)
        **{
            k: usage.get(k, 0)
            for k in ("llm_calls", "sequential_llm_rounds", "prompt_tokens", "completion_tokens")
        },
        "seconds": round(seconds, 3),
    }


def answer_row(scorers: Scorers, case: ReportCase, claims: Claims) -> dict[str, Any]:
    if scorers.extractor is None:
        return {}
    try:
        prediction = scorers.extractor.answer(case.question, [text for text, _ in claims])
    except OutputInvalid as e:  # no answer could be had: scored as a miss, and shown
        return {"prediction": "", "answer_error": str(e), "em": 0.0, "f1": 0.0}
    return {
        "prediction": prediction,
        "em": exact_match(prediction, case.answer),
        "f1": f1_score(prediction, case.answer)[0],
    }


def score_report(
    case: ReportCase, state: Mapping[str, Any], seconds: float, scorers: Scorers, dataset: str
) -> dict[str, Any]:
    report, evidence = state.get("report", {}), state.get("evidence", {})
    claims = report_claims(report)
    cited = {evidence[c]["doc_id"] for _, chunk_ids in claims for c in chunk_ids}
    gathered = {p["doc_id"] for p in evidence.values()}
    row: dict[str, Any] = {"id": case.case_id, "type": case.group, "gold_docs": list(case.gold_docs)}
    row |= {"cited_docs": sorted(cited), "gathered_docs": len(gathered), "claims": len(claims)}
    row["quoted_claims"] = sum(bool(c.get("quoted")) for s in report.get("sections", []) for c in s["claims"])
    row |= {"complete": report.get("complete"), "stop_reason": report.get("stop_reason")}
    if case.gold_docs:
        row |= {
            "cited_gold": gold_share(case.gold_docs, cited),
            "gathered_gold": gold_share(case.gold_docs, gathered),
        }
    row |= judge_claims(scorers.judge, claims, evidence)
    if scorers.judge is not scorers.lexical:
        lexical = judge_claims(scorers.lexical, claims, evidence)
        row |= {f"lexical_{k}": lexical[k] for k in ("judged", "supported", "refused")}
    if dataset == "hotpotqa":
        row |= {"answer": case.answer, **answer_row(scorers, case, claims)}
    else:
        passages = verdict_passages(claims, evidence, scorers.limits.max_evidence_per_section)
        row |= claim_verdict(scorers, case.question, passages)
    return row | report_cost(state, seconds)


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "p50": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(values), 3),
        "p50": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def recall_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["gold_docs"]]
    summary: dict[str, Any] = {"questions": len(scored), "left_out_without_gold": len(rows) - len(scored)}
    for where in ("cited", "gathered"):
        shares = [r[f"{where}_gold"] for r in scored]
        summary[where] = {
            "gold_share": mean(shares),
            "all_gold": mean([float(s == 1.0) for s in shares]),
            "any_gold": mean([float(s > 0) for s in shares]),
        }
    return summary


def precision_summary(rows: list[dict[str, Any]], judge: str, prefix: str = "") -> dict[str, Any]:
    judged = sum(r[f"{prefix}judged"] for r in rows)
    supported = sum(r[f"{prefix}supported"] for r in rows)
    per_report = [r[f"{prefix}supported"] / r[f"{prefix}judged"] for r in rows if r[f"{prefix}judged"]]
    return {
        "judge": judge,
        "claims": judged,
        "supported": supported,
        "precision": round(supported / judged, 4) if judged else None,
        "macro_precision": mean(per_report),
        "reports_with_claims": len(per_report),
        "judge_errors": sum(r.get("judge_errors", 0) for r in rows) if not prefix else 0,
    }


def verdict_summary(
    rows: list[dict[str, Any]], passages: str = "those the report cites, else its best-scored evidence"
) -> dict[str, Any]:
    done = [r for r in rows if r["verdict"] is not None]
    confusion = {
        g: {p: sum(r["type"] == g and r["verdict"] == p for r in done) for p in LABELS} for g in LABELS
    }
    by_label = {
        g: {
            "claims": sum(confusion[g].values()),
            "accuracy": mean([float(r["verdict"] == g) for r in done if r["type"] == g]),
        }
        for g in LABELS
    }
    return {
        "claims": len(done),
        "accuracy": mean([float(r["verdict"] == r["type"]) for r in done]),
        "by_gold_label": by_label,
        "confusion_gold_to_predicted": confusion,
        "verdict_errors": len(rows) - len(done),
        "passages": passages,
    }


def quoted_share(rows: list[dict[str, Any]]) -> float | None:
    counted = [r for r in rows if "quoted_claims" in r]
    claims = sum(r["claims"] for r in counted)
    return round(sum(r["quoted_claims"] for r in counted) / claims, 3) if claims else None


def summarise(rows: list[dict[str, Any]], scorers: Scorers, dataset: str) -> dict[str, Any]:
    own = [record for row in rows for record in row.get("eval_usage", [])]
    results: dict[str, Any] = {
        "reports": {
            "count": len(rows),
            "complete": sum(bool(r["complete"]) for r in rows),
            "with_claims": sum(r["claims"] > 0 for r in rows),
            "mean_claims": mean([r["claims"] for r in rows]),
            # claims replaced by their quote, the writer's words having gone beyond or reordered it
            # (agents/anchoring.py); rows logged before the key existed are left out
            "quoted_share": quoted_share(rows),
        },
        "evidence_recall": recall_summary(rows),
        "citation_precision": precision_summary(rows, scorers.judge.name),
    }
    if scorers.judge is not scorers.lexical:
        results["citation_precision_lexical"] = precision_summary(rows, scorers.lexical.name, "lexical_")
    if dataset == "scifact":
        results["verdict_agreement"] = verdict_summary(rows)
    # rows logged before a cost key existed (a resumed eval) leave it out, rather than count as 0
    results["cost_per_report"] = {
        k: spread([float(r[k]) for r in rows if k in r]) | {"reports": sum(k in r for r in rows)}
        for k in COST_KEYS
    }
    paid = [r for r in own if r.get("model") not in FREE_MODELS]
    results["eval_calls"] = {  # the judge / answer / verdict calls, outside the reports' own cost
        "calls": len(own),
        "llm_calls": len(paid),
        "prompt_tokens": sum(int(r.get("prompt_tokens", 0)) for r in paid),
        "completion_tokens": sum(int(r.get("completion_tokens", 0)) for r in paid),
    }
    return results
