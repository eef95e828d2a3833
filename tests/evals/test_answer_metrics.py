"""HotpotQA answer metrics against the official hotpot_evaluate_v1.py behaviour, with hand-computed cases."""

import pytest

from evals.answer_metrics import (
    AnswerScore,
    exact_match,
    f1_score,
    normalize_answer,
    question_type,
    summarise_answers,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("An apple a day", "apple day"),
        ("Theatre of the Absurd", "theatre of absurd"),  # articles only as whole words
        ("U.S.A.", "usa"),
        ("  Yes. ", "yes"),
        ("Pirate's Cove", "pirates cove"),
        ("rock-and-roll", "rockandroll"),  # punctuation is deleted, not turned into spaces
    ],
)
def test_normalisation_matches_the_official_steps(raw: str, normalised: str) -> None:
    assert normalize_answer(raw) == normalised


def test_exact_match_after_normalisation() -> None:
    assert exact_match("The Beatles", "beatles") == 1.0
    assert exact_match("Beatles (band)", "The Beatles") == 0.0


def test_token_f1_hand_computed() -> None:
    # "cat sat on mat" vs "cat on mat": 3 shared, P = 3/4, R = 3/3, F1 = 2*0.75/1.75
    f1, precision, recall = f1_score("the cat sat on the mat", "a cat on a mat")
    assert (precision, recall) == (0.75, 1.0)
    assert f1 == pytest.approx(6 / 7)
    # tokens count with multiplicity: "new" is shared once, not twice
    assert f1_score("new new york", "new york") == pytest.approx((0.8, 2 / 3, 1.0))
    assert f1_score("Paris", "London") == (0.0, 0.0, 0.0)


def test_yes_no_noanswer_score_zero_f1_unless_identical() -> None:
    assert f1_score("no", "no way")[0] == 0.0  # plain token F1 would be 2/3
    assert f1_score("yes sir", "yes")[0] == 0.0
    assert f1_score("noanswer", "Paris")[0] == 0.0
    assert f1_score("Yes.", "yes") == (1.0, 1.0, 1.0)
    assert exact_match("No", "no") == 1.0


@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("Were Scott Derrickson and Ed Wood of the same nationality?", "yes", "comparison"),
        ("Who is older, Annie Morton or Terry Richardson?", "Terry Richardson", "comparison"),
        ("Which magazine was started first, Arthur's Magazine or First for Women?", "Arthur's", "comparison"),
        ("What government position was held by the woman who portrayed Corliss Archer?", "Chief", "bridge"),
        ("The director of Nosferatu was born in which city?", "Bielefeld", "bridge"),
    ],
)
def test_question_type_heuristic(question: str, answer: str, kind: str) -> None:
    assert question_type(question, answer) == kind


def test_summary_is_per_type_and_overall() -> None:
    scores = [
        AnswerScore("bridge", 1.0, 1.0),
        AnswerScore("bridge", 0.0, 0.5),
        AnswerScore("comparison", 0.0, 0.0),
    ]
    summary = summarise_answers(scores)
    assert summary["overall"] == {"em": 0.3333, "f1": 0.5, "questions": 3}
    assert summary["bridge"] == {"em": 0.5, "f1": 0.75, "questions": 2}
    assert summary["comparison"] == {"em": 0.0, "f1": 0.0, "questions": 1}
