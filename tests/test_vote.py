"""Tests for thinkcli.answers and thinkcli.vote: extraction, normalization, confidence, voting, stopping."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinkcli.answers import extract_answer, is_numeric_question, normalize
from thinkcli.vote import (
    Ballot,
    RunningConfidence,
    VoteResult,
    answer_counts,
    leader_is_settled,
    group_confidences,
    group_size,
    keep_confident,
    lowest_window,
    trace_confidence,
    mean_logprob,
    samples_to_add,
    vote,
    weight,
)

# --- extract_answer -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # \boxed: the last one, nested braces balanced
        (r"So we get \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),
        (r"First \boxed{3}, corrected: \boxed{4}", "4"),
        (r"\boxed{ {a}{b{c}} } done", "{a}{b{c}}"),
        (r"\boxed {12}", "12"),
        (r"good \boxed{7} then broken \boxed{8", "7"),
        ("\\boxed{" * 5000 + r"\boxed{9} 10", "9"),  # many unclosed: still fast
        (r"\boxed{} and the answer is 5.", "5"),
        # "Final answer:" / "Answer:" lines, bold stripped, rest of the line
        ("Some work.\nFinal answer: 42\nThanks", "42"),
        ("work\n**Final Answer:** Paris, France\n", "Paris, France"),
        ("work\n**Final Answer**: 17", "17"),
        ("work\nFINAL ANSWER: **x = 3**", "x = 3"),
        ("work\nAnswer: 12 apples\nmore 99", "12 apples"),
        ("## Answer: 5", "5"),
        ("So the final answer: 8 and 9", "8 and 9"),
        ("**Final Answer:**\n\n$7$", "$7$"),
        ("Answer: 1\nlater\nAnswer: 2", "2"),
        # "the answer is X", up to the end of the sentence
        ("Therefore the answer is 3.5. Next we check 9.", "3.5"),
        ("Thus, The Answer Is **Blue**! And 4", "Blue"),
        ("the answer is 10\nmore text 11", "10"),
        ("so my final answer is $\\frac{3}{4}$.", "$\\frac{3}{4}$"),
        # the last number
        ("We get 2 then 3 then 41.", "41"),
        ("a total of 1,000 coins", "1,000"),
        ("the result is -3", "-3"),
        ("then 5-3", "3"),
        ("about 0.75 or 3/4", "3/4"),
        ("2.5 then 12,345.67 units", "12,345.67"),
        # nothing at all
        ("I could not decide.", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"The answer is 5. Final answer: 6. \boxed{7} then 8", "7"),
        ("The answer is 5.\nFinal answer: 6\nthen 8", "6"),
        ("The answer is five.\nWe counted 8", "five"),
        ("Answer: 3\nthe answer is 4", "3"),
    ],
)
def test_extract_answer_priority(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


# --- normalize ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,000", "1000"),
        ("1000", "1000"),
        ("1000.0", "1000"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("0.50", "0.5"),
        (".5", "0.5"),
        ("-3", "-3"),
        ("−3", "-3"),
        ("+3", "3"),
        ("-0.0", "0"),
        ("12,345.670", "12345.67"),
        ("50%", "50%"),
        ("50.0 \\%", "50%"),
        ("$42$", "42"),
        ("**42**", "42"),
        ("**$42$**.", "42"),
        ("$1,000", "1000"),
        ("\\(5\\)", "5"),
        ('"Yes"', "yes"),
        ("'no'", "no"),
        ("Paris.", "paris"),
        ("  New   York\n City!  ", "new york city"),
        ("\\text{Paris}", "paris"),
        ("\\text{ 12 }", "12"),
        ("\\textbf{B}", "b"),
        ("x = 5;", "x = 5"),
        ("\\frac{2}{4}", "1/2"),
        ("-\\dfrac{3}{4}", "-3/4"),
        ("6/8", "3/4"),
        ("4/2", "2"),
        ("1/0", "1/0"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "group",
    [
        ["1,000", "1000", "1000.0", "1e3", "$1000$", "**1,000**.", "\\text{1000}"],
        ["0.5", "0.50", ".5", "5e-1"],
        ["Paris", "paris.", "**PARIS**", '"Paris"', "\\text{Paris}"],
        ["3/4", "\\frac{3}{4}", "6/8"],
    ],
)
def test_normalize_equivalences(group: list[str]) -> None:
    assert len({normalize(a) for a in group}) == 1


@pytest.mark.parametrize(
    ("left", "right"),
    [("12", "1.2"), ("a", "b"), ("-3", "3"), ("50%", "50"), ("1,2", "12"), ("100", "1000")],
)
def test_normalize_keeps_different_answers_apart(left: str, right: str) -> None:
    assert normalize(left) != normalize(right)


def test_normalize_leaves_huge_exponents_as_text() -> None:
    assert normalize("1e5000") == "1e5000"


# --- confidence -------------------------------------------------------------------


def _brute_lowest(logprobs: list[float], window: int) -> float:
    if not logprobs:
        return 0.0
    if len(logprobs) < window:
        return sum(logprobs) / len(logprobs)
    return min(
        sum(logprobs[i : i + window]) / window for i in range(len(logprobs) - window + 1)
    )


def test_mean_logprob() -> None:
    assert mean_logprob([]) == 0.0
    assert mean_logprob([-1.0, -2.0, -3.0]) == pytest.approx(-2.0)


def test_lowest_window_examples() -> None:
    assert lowest_window([], window=3) == 0.0
    assert lowest_window([-1.0, -3.0], window=3) == pytest.approx(-2.0)
    assert lowest_window([-1.0, -1.0, -5.0, -6.0, -1.0], window=2) == pytest.approx(-5.5)
    assert lowest_window([-1.0, -2.0, -3.0], window=3) == pytest.approx(-2.0)
    with pytest.raises(ValueError):
        lowest_window([-1.0], window=0)


logprob_lists = st.lists(
    st.floats(min_value=-30.0, max_value=0.0, allow_nan=False), max_size=120
)


@given(logprobs=logprob_lists, window=st.integers(min_value=1, max_value=40))
def test_lowest_window_matches_brute_force(logprobs: list[float], window: int) -> None:
    expected = _brute_lowest(logprobs, window)
    assert lowest_window(logprobs, window) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(logprobs=logprob_lists, window=st.integers(min_value=1, max_value=40))
def test_running_confidence_matches_brute_force(logprobs: list[float], window: int) -> None:
    running = RunningConfidence(window)
    assert running.current == 0.0
    assert running.lowest == 0.0
    for n, logprob in enumerate(logprobs, start=1):
        running.add(logprob)
        seen = logprobs[:n]
        tail = seen[-window:]
        assert running.current == pytest.approx(sum(tail) / len(tail), rel=1e-9, abs=1e-9)
        assert running.lowest == pytest.approx(_brute_lowest(seen, window), rel=1e-9, abs=1e-9)


def test_running_confidence_stays_exact_over_a_long_sample() -> None:
    # Mixed magnitudes make naive add/subtract drift; the result must not.
    running = RunningConfidence(4)
    for i in range(20_000):
        running.add(-1e6 if i % 1000 == 0 else -0.001)
    assert running.current == pytest.approx(-0.001, rel=1e-9)


def test_running_confidence_rejects_bad_window() -> None:
    with pytest.raises(ValueError):
        RunningConfidence(0)


# --- vote -------------------------------------------------------------------------


def test_weight_is_confidence_scaled_by_p_true_against_an_even_chance() -> None:
    assert weight(Ballot("1", 2.5)) == 2.5
    assert weight(Ballot("1", -1.0)) == 0.0  # clamped: a confidence is never negative
    assert weight(Ballot("1", 2.0, p_true=0.25)) == pytest.approx(1.0)
    assert weight(Ballot("1", 2.0, p_true=0.5)) == weight(Ballot("1", 2.0, p_true=None)) == 2.0
    assert weight(Ballot("1", 2.0, p_true=0.9)) == pytest.approx(3.6)


def test_an_unverified_ballot_weighs_as_an_even_chance_beside_verified_ones() -> None:
    assert vote([Ballot("4", 3.0), Ballot("5", 2.5, p_true=0.9)]).leader == "5"
    assert vote([Ballot("4", 3.0), Ballot("5", 2.5, p_true=0.55)]).leader == "4"


def test_majority_wins_and_chosen_is_its_most_confident_member() -> None:
    ballots = [
        Ballot("42", 3.0),
        Ballot("41", 5.0),
        Ballot("42 apples.", 1.0),  # normalizes differently: its own answer
        Ballot("42.0", 4.0),
        Ballot("$42$", 2.0),
    ]
    result = vote(ballots)
    assert result.leader == "42"
    assert result.chosen == 3
    assert result.agree == 3
    assert result.runner_up == 1
    assert result.votes["42"] == pytest.approx(9.0)
    assert result.votes["41"] == pytest.approx(5.0)
    assert set(result.votes) == {"42", "41", "42 apples"}


def test_confident_minority_loses_to_a_bigger_group() -> None:
    ballots = [Ballot("7", 9.0), Ballot("8", 5.0), Ballot("8", 5.0)]
    result = vote(ballots)
    assert result.leader == "8"
    assert result.chosen == 1
    assert result.runner_up == 0


def test_one_very_confident_ballot_beats_two_unsure_ones() -> None:
    ballots = [Ballot("7", 9.0), Ballot("8", 2.0), Ballot("8", 3.0)]
    result = vote(ballots)
    assert result.leader == "7"
    assert result.chosen == 0
    assert result.agree == 1
    assert result.runner_up == 2
    assert result.votes == {"7": pytest.approx(9.0), "8": pytest.approx(5.0)}


def test_tie_goes_to_the_group_with_the_most_confident_ballot() -> None:
    # 0.2 + 0.4 and 0.1 + 0.5 tie, though in floats the first sums one ulp
    # higher; "b" holds the 0.5 ballot, so rounding alone must not decide.
    ballots = [Ballot("a", 0.2), Ballot("b", 0.1), Ballot("a", 0.4), Ballot("b", 0.5)]
    result = vote(ballots)
    assert result.leader == "b"
    assert result.chosen == 3
    assert result.runner_up == 2


def test_exact_tie_of_equal_ballots_goes_to_the_earlier_sample() -> None:
    result = vote([Ballot("x", 0.5), Ballot("y", 0.5)])
    assert (result.leader, result.chosen, result.runner_up) == ("x", 0, 1)


def test_ballots_without_answers_do_not_vote() -> None:
    result = vote([Ballot(None, 9.0), Ballot("5", 2.0), Ballot("", 8.0)])
    assert result.leader == "5"
    assert result.chosen == 1
    assert result.votes == {"5": pytest.approx(2.0)}
    assert result.runner_up is None


def test_no_answers_picks_the_most_confident_ballot() -> None:
    result = vote([Ballot(None, 1.0), Ballot(None, 3.0), Ballot(None, 2.0)])
    assert result == VoteResult(chosen=1, votes={}, leader=None, agree=1, runner_up=None)


def test_single_ballot() -> None:
    result = vote([Ballot("Yes", 0.4)])
    assert (result.chosen, result.agree, result.runner_up) == (0, 1, None)


def test_verification_can_turn_the_vote() -> None:
    ballots = [Ballot("7", 4.0, p_true=0.1), Ballot("8", 3.0, p_true=0.9)]
    assert vote(ballots).leader == "8"
    assert vote([Ballot("7", 4.0), Ballot("8", 3.0)]).leader == "7"


# --- trace confidence and the filter ------------------------------------------------


def test_group_size_shrinks_for_short_traces() -> None:
    assert group_size(10_000) == 2048
    assert group_size(8192) == 2048
    assert group_size(400) == 100
    assert group_size(40) == 16
    assert group_size(5) == 5
    assert group_size(0) == 1


def test_group_confidences_on_known_sequences() -> None:
    assert group_confidences([1.0, 2.0, 3.0, 4.0], 2) == pytest.approx([1.5, 2.5, 3.5])
    assert group_confidences([1.0, 3.0], 4) == pytest.approx([2.0])
    assert group_confidences([], 4) == []


def test_trace_confidence_measures_on_a_known_sequence() -> None:
    # 64 tokens: groups of 16; a dip of 16 tokens at confidence 1 among 5s.
    trace = [5.0] * 24 + [1.0] * 16 + [5.0] * 24
    assert trace_confidence(trace, "lowest") == pytest.approx(1.0)
    assert trace_confidence(trace, "tail") == pytest.approx(5.0)
    # 49 groups, the lowest 5 of them: means 1, 1.25, 1.25, 1.5, 1.5
    assert trace_confidence(trace, "bottom10") == pytest.approx((1.0 + 1.25 * 2 + 1.5 * 2) / 5)
    assert trace_confidence([], "lowest") == 0.0
    assert trace_confidence([2.0, 4.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="measure"):
        trace_confidence([1.0], "median")


@given(st.lists(st.floats(0, 20), min_size=1, max_size=300))
def test_lowest_group_matches_brute_force(confidences: list[float]) -> None:
    window = group_size(len(confidences))
    brute = min(
        sum(confidences[i : i + window]) / window for i in range(len(confidences) - window + 1)
    )
    assert trace_confidence(confidences) == pytest.approx(brute, abs=1e-9)


def test_keep_confident() -> None:
    ballots = [Ballot("a", c) for c in (3.0, 1.0, 5.0, 2.0, 4.0)]
    assert keep_confident(ballots, 0.9) == [0, 1, 2, 3, 4]  # 4.5 rounds up: all five
    assert keep_confident(ballots, 0.7) == [0, 2, 3, 4]  # 3.5 rounds up to 4: the least confident goes
    assert keep_confident(ballots, 0.1) == [2]
    assert keep_confident(ballots, 1.0) == [0, 1, 2, 3, 4]
    assert keep_confident(ballots[:1], 0.5) == [0]
    assert keep_confident([Ballot("a", 2.0)] * 3, 0.5) == [0, 1, 2]  # equals at the threshold all stay
    assert keep_confident([], 0.5) == []
    with pytest.raises(ValueError):
        keep_confident(ballots, 0.0)


def test_vote_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError):
        vote([])
    with pytest.raises(ValueError):
        vote([Ballot("1", math.nan)])


def test_answer_counts() -> None:
    ballots = [Ballot("1", 1), Ballot("2", 1), Ballot("1.0", 1), Ballot(None, 1)]
    assert answer_counts(ballots) == [2, 1]
    assert answer_counts([]) == []


# --- adaptive stopping --------------------------------------------------------------


def _settle_probability(a: int, b: int) -> Fraction:
    n = a + b + 1
    return Fraction(sum(math.comb(n, k) for k in range(a + 1)), 2**n)


@pytest.mark.parametrize(
    ("counts", "probability", "settled"),
    [
        ([2], Fraction(7, 8), False),
        ([3], Fraction(15, 16), False),
        ([4], Fraction(31, 32), True),
        ([3, 1], Fraction(26, 32), False),
        ([1, 3], Fraction(26, 32), False),
        ([6, 1], Fraction(247, 256), True),
        ([5, 1], Fraction(120, 128), False),
        ([6, 2, 1], Fraction(466, 512), False),
    ],
)
def test_leader_is_settled_exact(counts: list[int], probability: Fraction, settled: bool) -> None:
    top = sorted(counts, reverse=True) + [0]
    assert _settle_probability(top[0], top[1]) == probability
    assert leader_is_settled(counts) is settled
    # The rule is "above threshold": a threshold just under/at P flips it.
    assert leader_is_settled(counts, threshold=float(probability) - 1e-12) is True
    assert leader_is_settled(counts, threshold=float(probability)) is False


def test_leader_is_settled_edge_cases() -> None:
    assert leader_is_settled([]) is False
    assert leader_is_settled([0, 0]) is False
    assert leader_is_settled([50, 50]) is False
    assert leader_is_settled([600, 400]) is True
    with pytest.raises(ValueError):
        leader_is_settled([3, -1])


@pytest.mark.parametrize(
    ("counts", "have", "most", "step", "expected"),
    [
        ([4], 4, 16, 2, 0),  # settled
        ([2], 2, 16, 2, 2),
        ([3, 1], 4, 16, 4, 4),
        ([3, 1], 4, 5, 4, 1),  # capped by the budget
        ([1, 1], 8, 8, 2, 0),  # budget spent
        ([1, 1], 9, 8, 2, 0),  # over budget never goes negative
        ([], 0, 8, 3, 3),
    ],
)
def test_samples_to_add(counts: list[int], have: int, most: int, step: int, expected: int) -> None:
    assert samples_to_add(counts, have, most, step) == expected


@given(
    counts=st.lists(st.integers(min_value=0, max_value=12), max_size=4),
    have=st.integers(min_value=0, max_value=40),
    most=st.integers(min_value=0, max_value=40),
    step=st.integers(min_value=1, max_value=8),
)
def test_samples_to_add_bounds(counts: list[int], have: int, most: int, step: int) -> None:
    added = samples_to_add(counts, have, most, step)
    assert 0 <= added <= step
    assert have + added <= max(have, most)
    assert (added == 0) == (have >= most or leader_is_settled(counts))


def test_samples_to_add_threshold_and_step() -> None:
    assert samples_to_add([3], 3, 10, threshold=0.9) == 0
    assert samples_to_add([3], 3, 10) == 2
    with pytest.raises(ValueError):
        samples_to_add([1], 1, 10, step=0)


# --- extraction from real outputs of the small model ------------------------------

RAMBLE = (
    "To find how many marbles Hana has, we follow the steps. Step 1: Hana has 9 marbles. "
    "Step 2: she looks at the marbles. Step 3: she counts the marbles again and again. "
    "Step 4: the marbles are in a bag of 9. Step 5: we think about the marbles once more."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So, the final answer is a simple multiplication of 100% but we must check it again. "
         "There are many ways to see it. It depends.", None),
        ("Hana has 17 marbles now.", "17"),
        ("The final answer is 16.", "16"),
        (RAMBLE, None),  # long rambling steps: no final statement, no number taken
        ("Work: 9 + 8 = 17. More work follows here. And here. So the answer is 17 marbles.", "17"),
        ("The answer is **17**.", "17"),
        ("The answer is $\\frac{3}{4}$.", "$\\frac{3}{4}$"),
        ("Final answer: about seventeen, I think", None),
        ("The answer is 12%.", "12%"),
        # GSM8K's mark, as the small model writes it
        ("Omar has 4 bags, so 4 * 6 = 24 shells.\n#### 2\nOmar has 2 + 9 = 11 shells in all.\n#### 3", "3"),
        ("So 4 x 12 = 480 marbles.\n#### 480\nLuis has 480 - 64 = 240 marbles in total.", "480"),
        ("#### **17** marbles", "17"),
    ],
)
def test_extract_answer_reads_final_statements_of_numeric_questions(text: str, expected: str | None) -> None:
    assert extract_answer(text, numeric=True) == expected


def test_a_phrase_is_kept_for_a_question_that_is_not_numeric() -> None:
    assert extract_answer("The answer is Paris.") == "Paris"
    assert extract_answer("The answer is a simple multiplication.", numeric=True) is None


@pytest.mark.parametrize(
    ("question", "numeric"),
    [
        ("Hana has 9 marbles and gets 8 more. How many marbles does Hana have now?", True),
        ("What is 2**10?", True),
        ("What is 17 * 23?", True),
        ("How much change does Tom get?", True),
        ("What is the capital of France?", False),
        ("Write a haiku about rain.", False),
    ],
)
def test_is_numeric_question(question: str, numeric: bool) -> None:
    assert is_numeric_question(question) is numeric
