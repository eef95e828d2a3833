"""The eval-side retrieval variants and HotpotQA scoring on hand-made rankings."""

from evals.datasets import HotpotQuestion
from evals.hotpot_eval import gold_recall, sample_questions
from evals.rankers import convex_docs, rrf_docs

LEXICAL = [("a", 12.0), ("b", 10.0), ("c", 2.0)]
DENSE = [("c", 0.9), ("a", 0.5), ("d", 0.4)]


def test_rrf_docs_plain_and_weighted() -> None:
    # k=1: a = 1/2 + 1/3, c = 1/4 + 1/2, b = 1/3, d = 1/4
    assert rrf_docs(LEXICAL, DENSE, rrf_k=1) == ["a", "c", "b", "d"]
    # BM25 weighted 0.2 (dense 1.8): c = 0.2/4 + 1.8/2 overtakes a = 0.2/2 + 1.8/3
    assert rrf_docs(LEXICAL, DENSE, rrf_k=1, w_lexical=0.2)[0] == "c"


def test_convex_docs_min_max_normalises_each_list() -> None:
    # normalised: lexical a=1, b=0.8, c=0; dense c=1, a=0.2, d=0
    assert convex_docs(LEXICAL, DENSE, alpha=0.5) == ["a", "c", "b", "d"]
    assert convex_docs(LEXICAL, DENSE, alpha=0.0)[0] == "c"


def test_gold_recall_counts_both_and_one() -> None:
    questions = [HotpotQuestion("1", "q", "x", ("p1", "p2")), HotpotQuestion("2", "q", "y", ("p3", "p4"))]
    result = gold_recall([{"p1", "p2", "p9"}, {"p3"}], questions)
    assert result == {"both_gold": 0.5, "at_least_one_gold": 1.0}


def test_sample_is_seeded_and_stable() -> None:
    questions = [HotpotQuestion(str(i), "q", "a", ("x", "y")) for i in range(50)]
    first = sample_questions(questions, 10)
    assert len(first) == len({q.question_id for q in first}) == 10
    assert first == sample_questions(questions, 10)
    assert first != sample_questions(questions, 10, seed=8)
    assert len(sample_questions(questions, None)) == 50
