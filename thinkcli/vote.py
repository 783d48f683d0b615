"""Self-consistency: weigh each path's answer by the model's confidence, and vote.

Pure functions over answers and token confidences: ``trace_confidence`` scores a
path as DeepConf does, ``vote`` is a confidence-weighted majority; ``leader_is_settled``
and ``samples_to_add`` decide when adaptive effort has seen enough agreement.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from thinkcli.answers import normalize
from thinkcli.events import SampleResult


def mean_logprob(logprobs: Sequence[float]) -> float:
    """Mean token log-probability of a sample (0.0 for no tokens)."""
    return math.fsum(logprobs) / len(logprobs) if logprobs else 0.0


def _check_window(window: int) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")


def lowest_window(logprobs: Sequence[float], window: int = 32) -> float:
    """DeepConf's "lowest group confidence": the worst stretch of a sample.

    Args:
        logprobs: the sample's token log-probabilities.
        window: tokens per group.

    Returns:
        The minimum, over all sliding windows, of the window's mean logprob;
        the whole mean if the sample is shorter than a window; 0.0 if empty.
    """
    _check_window(window)
    if len(logprobs) <= window:
        return mean_logprob(logprobs)
    running = RunningConfidence(window)
    for logprob in logprobs:
        running.add(logprob)
    return running.lowest


class RunningConfidence:
    """Sliding-window confidence of one streaming sample, O(1) per token.

    For DeepConf-online early stopping: a sample whose ``current`` drops below
    a threshold learned from warm-up samples can be cut short.

    Args:
        window: tokens per group.
    """

    __slots__ = ("_window", "_recent", "_sum", "_lowest", "_since_resync")

    def __init__(self, window: int = 32) -> None:
        _check_window(window)
        self._window = window
        self._recent: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._lowest = math.inf
        self._since_resync = 0

    def add(self, logprob: float) -> None:
        """Take the next token's log-probability."""
        if len(self._recent) == self._window:
            self._sum -= self._recent[0]
        self._recent.append(logprob)
        self._sum += logprob
        self._since_resync += 1
        # Adding and subtracting drifts over long samples; an exact re-sum once
        # per window keeps the error bounded at O(1) amortized cost.
        if self._since_resync >= self._window:
            self._sum = math.fsum(self._recent)
            self._since_resync = 0
        if len(self._recent) == self._window:
            self._lowest = min(self._lowest, self._sum / self._window)

    @property
    def current(self) -> float:
        """Mean of the last ``window`` log-probabilities (0.0 before any)."""
        return self._sum / len(self._recent) if self._recent else 0.0

    @property
    def lowest(self) -> float:
        """Lowest full-window mean so far, or the current mean before a full window."""
        return self._lowest if len(self._recent) == self._window else self.current



WINDOW = 2048  # DeepConf's group size, in tokens
MIN_WINDOW = 16  # the smallest group a short trace is scored by
MEASURES = ("lowest", "bottom10", "tail")


def group_size(n_tokens: int, window: int = WINDOW) -> int:
    """The group size for a trace of ``n_tokens``: ``window``, shrunk for short traces.

    A trace shorter than four windows is scored by groups of a quarter of its
    length (at least ``MIN_WINDOW`` tokens, at most the whole trace), so one bad
    stretch of a 200-token trace still shows.
    """
    _check_window(window)
    return max(1, min(window, n_tokens, max(MIN_WINDOW, n_tokens // 4)))


def group_confidences(confidences: Sequence[float], window: int) -> list[float]:
    """The mean token confidence of every sliding group of ``window`` tokens."""
    _check_window(window)
    if len(confidences) < window:
        return [mean_logprob(confidences)] if confidences else []
    prefix = [0.0]
    for value in confidences:
        prefix.append(prefix[-1] + value)
    return [(prefix[i + window] - prefix[i]) / window for i in range(len(confidences) - window + 1)]


def trace_confidence(confidences: Sequence[float], measure: str = "lowest") -> float:
    """A path's confidence from its token confidences (DeepConf, Fu et al. 2025).

    Args:
        confidences: token confidences of the whole trace, reasoning and answer.
        measure: ``lowest`` (the lowest group confidence), ``bottom10`` (the mean
            of the lowest 10% of groups) or ``tail`` (the mean of the last group).

    Returns:
        The score, higher is surer; 0.0 for an empty trace.

    Raises:
        ValueError: an unknown measure.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown confidence measure {measure!r}; choose one of: {', '.join(MEASURES)}")
    if not confidences:
        return 0.0
    window = group_size(len(confidences))
    if measure == "tail":
        return mean_logprob(confidences[-window:])
    groups = group_confidences(confidences, window)
    if measure == "lowest":
        return min(groups)
    worst = sorted(groups)[: max(1, math.ceil(len(groups) / 10))]
    return math.fsum(worst) / len(worst)


@dataclass(frozen=True, slots=True)
class Ballot:
    """One sample's say in the vote.

    Args:
        extracted: its raw extracted answer, or None.
        confidence: its trace confidence, >= 0; higher is more confident.
        p_true: the verifier's probability that its answer is right, when it ran.
    """

    extracted: str | None
    confidence: float
    p_true: float | None = None


@dataclass(frozen=True, slots=True)
class VoteResult:
    """How a vote came out.

    Args:
        chosen: index of the ballot whose sample is the answer.
        votes: normalized answer -> summed weight (answers that were extracted).
        leader: the winning normalized answer, None if no ballot had one.
        agree: how many ballots share the leader (1 when none had an answer).
        runner_up: index of the best ballot of the second answer, if any.
    """

    chosen: int
    votes: dict[str, float]
    leader: str | None
    agree: int
    runner_up: int | None


EVEN_CHANCE = 0.5  # the P(true) that says nothing: the verifier's neutral point


def weight(ballot: Ballot) -> float:
    """A ballot's weight: its confidence (negative clamped to 0), scaled by its P(true).

    The scale is P(true) against an even chance (``p_true / 0.5``), so a ballot the
    verifier could not judge (``p_true`` None: it was not asked, or put almost no mass
    on Yes or No) weighs as one judged an even chance, never more than one judged
    likely right.
    """
    scale = 1.0 if ballot.p_true is None else ballot.p_true / EVEN_CHANCE
    return max(ballot.confidence, 0.0) * scale


def keep_confident(ballots: Sequence[Ballot], share: float) -> list[int]:
    """DeepConf's offline filter: the indices of the most confident ``share`` of ballots.

    The threshold is the confidence of the ``max(1, round(share * n))``-th most
    confident ballot, and every ballot at or above it is kept, so equals share a fate.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if not ballots:
        return []
    keep = max(1, math.floor(share * len(ballots) + 0.5))  # halves round up: 90% of 5 keeps 5
    threshold = sorted((b.confidence for b in ballots), reverse=True)[keep - 1]
    return [i for i, b in enumerate(ballots) if b.confidence >= threshold]


THINK_FLOOR = 32  # thinking tokens below which a path barely thought
ANSWER_RATIO = 4  # ... and whose answer this many times longer was its real thinking


def why_not(result: SampleResult, *, others_answered: bool, thinking: bool) -> str | None:
    """Why a finished path may not vote, or None when it may.

    Args:
        result: the path.
        others_answered: another path stated an extractable answer.
        thinking: the run asked the paths to think first.
    """
    if result.think_end == "pruned":
        return "pruned: its confidence fell below the first paths'"
    if result.answer_end == "decided":
        return "stopped: it could no longer change the winner"
    if result.think_end == "loop":
        return "its thinking went round in a loop"
    if result.answer_end == "loop":
        return "its answer went round in a loop"
    if result.answer_end == "length":
        return "answer cut by the length limit"
    if result.answer_end == "interrupted":
        return "interrupted"
    if not (result.extracted and normalize(result.extracted)) and others_answered:
        return "no final answer stated"
    if (
        thinking
        and result.think_end == "stop"
        and result.thinking_tokens < THINK_FLOOR
        and result.answer_tokens > ANSWER_RATIO * max(result.thinking_tokens, 1)
    ):
        return "thought in the answer: thinking closed early, the answer rambles"
    return None


def _groups(ballots: Sequence[Ballot]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, ballot in enumerate(ballots):
        key = "" if ballot.extracted is None else normalize(ballot.extracted)
        if key:
            groups.setdefault(key, []).append(index)
    return groups


def vote(ballots: Sequence[Ballot]) -> VoteResult:
    """Confidence-weighted majority vote over normalized answers.

    Each ballot adds ``weight(ballot)`` to its answer; the heaviest answer
    wins, a tie goes to the answer holding the single most confident ballot,
    and the chosen ballot is the most confident one of the winning answer.

    Args:
        ballots: one per sample, in sample order.

    Returns:
        The outcome; with no extracted answers, the most confident ballot.

    Raises:
        ValueError: no ballots, or a confidence that is NaN.
    """
    if not ballots:
        raise ValueError("vote needs at least one ballot")
    if any(math.isnan(b.confidence) for b in ballots):
        raise ValueError("ballot confidence is NaN")

    def best(indices: Sequence[int]) -> int:
        # max() keeps the first of equals, so earlier samples win exact ties.
        return max(indices, key=lambda i: ballots[i].confidence)

    groups = _groups(ballots)
    if not groups:
        return VoteResult(best(range(len(ballots))), {}, None, 1, None)
    votes = {
        key: math.fsum(weight(ballots[i]) for i in members)
        for key, members in groups.items()
    }
    ranked = _rank(votes, {key: ballots[best(m)].confidence for key, m in groups.items()})
    leader = ranked[0]
    runner_up = best(groups[ranked[1]]) if len(ranked) > 1 else None
    return VoteResult(best(groups[leader]), votes, leader, len(groups[leader]), runner_up)


def _rank(votes: dict[str, float], top: dict[str, float]) -> list[str]:
    """Answers from winner down: by weight, near-equal weights by best confidence."""
    order = list(votes)  # first appearance breaks any remaining tie
    ranked: list[str] = []
    remaining = sorted(order, key=lambda k: -votes[k])
    while remaining:
        heaviest = votes[remaining[0]]
        # Sums of different ballots can differ by rounding alone; treat that as a tie.
        tied = [k for k in remaining if math.isclose(votes[k], heaviest, rel_tol=1e-9)]
        tied.sort(key=lambda k: (-top[k], order.index(k)))
        ranked.extend(tied)
        remaining = [k for k in remaining if k not in tied]
    return ranked


def answer_counts(ballots: Sequence[Ballot]) -> list[int]:
    """Ballots per distinct normalized answer, largest first (for adaptive stopping)."""
    return sorted((len(m) for m in _groups(ballots).values()), reverse=True)



def leader_is_settled(counts: Sequence[int], threshold: float = 0.95) -> bool:
    """Adaptive-Consistency's stopping rule: is the leader's lead real?

    With leader count ``a`` and runner-up count ``b`` (0 if there is none), the
    Beta posterior gives P(leader's share > runner-up's) = P(Binomial(a+b+1, 1/2) <= a),
    computed exactly.

    Args:
        counts: votes per distinct answer, in any order.
        threshold: the probability the lead must exceed.

    Returns:
        True when that probability is above ``threshold``.

    Raises:
        ValueError: a negative count.
    """
    if any(c < 0 for c in counts):
        raise ValueError(f"vote counts must be non-negative, got {list(counts)}")
    top = sorted(counts, reverse=True)
    if not top or top[0] == 0:
        return False
    a, b = top[0], (top[1] if len(top) > 1 else 0)
    n = a + b + 1
    below = sum(math.comb(n, k) for k in range(a + 1))
    return Fraction(below, 2**n) > Fraction(threshold)


def samples_to_add(
    counts: Sequence[int], have: int, most: int, step: int = 2, *, threshold: float = 0.95
) -> int:
    """How many more samples adaptive effort should draw.

    Args:
        counts: votes per distinct answer so far.
        have: samples drawn so far; most: the sample budget.
        step: samples per round; threshold: passed to ``leader_is_settled``.

    Returns:
        0 once the leader is settled or the budget is spent, else min(step, most - have).

    Raises:
        ValueError: step below 1.
    """
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    if have >= most or leader_is_settled(counts, threshold):
        return 0
    return min(step, most - have)
